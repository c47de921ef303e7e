"""/api/v1/clarity/flags: tokenmaxxing flags per week, and their review.

Admins and auditors see every flag; everyone else only flags about themselves (or agents acting for
them). Admins and auditors review: confirmed or dismissed, and a dismissal suppresses the same pattern
for that subject in later weeks. A review is an `admin.flag_reviewed` audit record in its transaction
(`review_audited`, which the web's review form calls too), as it judges a person or their agent.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from meshclaw.api.audit_trail import record_admin_action
from meshclaw.api.clarity_shapes import FlagOut, FlagsOut, flag_out, flags_out
from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.clarity import access, views
from meshclaw.clarity.flag_store import StoredFlag, get_flag, review_flag
from meshclaw.context import AppContext
from meshclaw.errors import NotFoundError
from meshclaw.identity.principal import Principal

router = APIRouter(prefix="/clarity/flags", tags=["clarity"])


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["confirmed", "dismissed"]
    note: str | None = Field(default=None, max_length=2000, description="Why, for the next reviewer")


@router.get("", response_model=FlagsOut)
def list_flags(
    principal: CurrentPrincipal,
    context: Context,
    since: Annotated[str | None, Query(description="First day (ISO 8601); default: 28 days ago")] = None,
    until: Annotated[
        str | None, Query(description="Day after the last, exclusive; default: tomorrow")
    ] = None,
) -> FlagsOut:
    """Flags of the weeks (Monday to Sunday, UTC) overlapping the range; weeks not scored yet are scored
    first, so a first request over many weeks takes longer."""
    with context.db.session() as session:
        window, stored = views.flags(session, principal, since=since, until=until, now=context.clock.now())
    return flags_out(window.since, window.until, stored)


def review_audited(
    context: AppContext,
    session: Session,
    principal: Principal,
    flag_id: int,
    status: str,
    *,
    note: str | None,
) -> StoredFlag:
    """Review a flag and audit the review in the same transaction: whom the flag is about (`person` and a
    user id, or `agent` and an agent id), its week, the status from and to, and the note. An unknown flag
    (404) or status (400) writes nothing. The caller checks the reviewer may review (`access.may_review`)."""
    before = get_flag(session, flag_id)
    if before is None:
        raise NotFoundError(f"no flag with id {flag_id}")
    reviewed = review_flag(
        session, flag_id, status, note=note, by_user_id=principal.user_id, now=context.clock.now()
    )
    flag = before.flag
    subject_id = flag.agent_id if flag.kind == "agent" else flag.user_id
    record_admin_action(
        context,
        session,
        principal,
        kind="admin.flag_reviewed",
        target=f"clarity_flag:{flag_id}",
        arguments={
            "subject": {"kind": flag.kind, "id": subject_id},
            "week": flag.week_start.isoformat(),
            "status": {"from": before.status, "to": reviewed.status},
            "note": note,
        },
    )
    return reviewed


@router.post("/{flag_id}/review", response_model=FlagOut)
def review(
    flag_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    body: ReviewIn,
    principal: CurrentPrincipal,
    context: Context,
) -> FlagOut:
    """Mark a flag confirmed or dismissed (admins and auditors)."""
    access.may_review(principal)
    with context.db.session() as session:
        stored = review_audited(context, session, principal, flag_id, body.status, note=body.note)
    return flag_out(stored)
