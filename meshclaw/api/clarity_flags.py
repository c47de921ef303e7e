"""/api/v1/clarity/flags: tokenmaxxing flags per week, and their review.

Admins and auditors see every flag; everyone else only flags about themselves (or agents acting for
them). Admins and auditors review: confirmed or dismissed, and a dismissal suppresses the same pattern
for that subject in later weeks.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from meshclaw.api.clarity_shapes import FlagOut, FlagsOut, flag_out, flags_out
from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.clarity import access, views
from meshclaw.clarity.flag_store import get_flag, review_flag
from meshclaw.errors import NotFoundError

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
        if get_flag(session, flag_id) is None:
            raise NotFoundError(f"no flag with id {flag_id}")
        stored = review_flag(
            session,
            flag_id,
            body.status,
            note=body.note,
            by_user_id=principal.user_id,
            now=context.clock.now(),
        )
    return flag_out(stored)
