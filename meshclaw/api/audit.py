"""/api/v1/audit: the audit log for admins and auditors: a filtered, paginated list and a verification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from meshclaw.api.audit_trail import audit_log
from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.row_ids import RowIdQuery
from meshclaw.audit.store import MAX_PAGE, AuditFilter, event_dict, list_events
from meshclaw.audit.verify import verify
from meshclaw.identity.authorize import Resource, authorize
from meshclaw.metering.queries import MAX_ID, parse_time

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditPageOut(BaseModel):
    events: list[dict[str, Any]] = Field(description="Newest first; arguments are stored redacted")
    next_before: int | None = Field(description="Pass as `before` for the next (older) page")


class VerificationOut(BaseModel):
    ok: bool
    records: int
    last_seq: int
    checkpoints: int
    first_bad_seq: int | None
    problem: str | None


def audit_filter(
    kind: str | None,
    agent_id: int | None,
    user_id: int | None,
    tool: str | None,
    decision: str | None,
    since: str | None,
    until: str | None,
) -> AuditFilter:
    return AuditFilter(
        kind=kind or None,
        agent_id=agent_id,
        user_id=user_id,
        tool=tool or None,
        decision=decision or None,
        since=parse_time(since, "since"),
        until=parse_time(until, "until"),
    )


@router.get("", response_model=AuditPageOut)
def list_audit(
    principal: CurrentPrincipal,
    context: Context,
    kind: str | None = Query(default=None, description="A kind, or a prefix such as admin.*"),
    agent_id: RowIdQuery | None = None,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="On whose behalf")] = None,
    tool: str | None = None,
    decision: str | None = None,
    since: str | None = None,
    until: str | None = None,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only records with a lower seq (paging)")
    ] = None,
    limit: int = Query(default=50, ge=1, le=MAX_PAGE),
) -> AuditPageOut:
    authorize(principal, "read", Resource(kind="audit"))
    where = audit_filter(kind, agent_id, user_id, tool, decision, since, until)
    with context.db.session() as session:
        page = list_events(session, where, before=before, limit=limit)
        return AuditPageOut(events=[event_dict(row) for row in page.events], next_before=page.next_before)


@router.get("/verify", response_model=VerificationOut)
def verify_audit(principal: CurrentPrincipal, context: Context) -> VerificationOut:
    """Recompute the whole chain (this reads every record)."""
    authorize(principal, "read", Resource(kind="audit"))
    log = audit_log(context)
    with context.db.session() as session:
        result = verify(session, key=log.key, checkpoint_file=log.checkpoint_file)
    return VerificationOut(
        ok=result.ok,
        records=result.records,
        last_seq=result.last_seq,
        checkpoints=result.checkpoints,
        first_bad_seq=result.first_bad_seq,
        problem=result.problem,
    )
