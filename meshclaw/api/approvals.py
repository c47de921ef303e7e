"""/api/v1/approvals: the approvals inbox. List the open approvals you may decide, read one, decide one.

A decision is recorded (with its audit record) before the run hears of it, and an approval is decided
once: a second decision answers 409, one after the expiry 410. The server computes every digest; edited
arguments are validated against the tool's schema (422 with what is wrong). Someone who may not read the
approval's agent gets 404, as for an id that never existed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.runs import engine_of
from meshclaw.runs import approval_inbox, approvals

router = APIRouter(prefix="/approvals", tags=["approvals"])


class ApprovalOut(BaseModel):
    id: str
    run_id: str
    tool_call_id: str
    agent_id: int
    agent_name: str
    owner_user_id: int
    owner_email: str
    tool: str
    effect: str = Field(description="The tool's effect class")
    args: dict[str, Any] = Field(description="The exact arguments the agent asked to run the tool with")
    approved_args: dict[str, Any] | None = Field(
        description="The arguments as edited, when edited then approved"
    )
    args_digest: str = Field(description="SHA-256 of what may run (computed by the server)")
    reason: str = Field(description="Why the policy gate asked for a person")
    status: str = Field(description=", ".join(approvals.STATUSES))
    requested_at: datetime
    expires_at: datetime
    decided_by_user_id: int | None
    decided_at: datetime | None
    note: str | None
    used_at: datetime | None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "deny"]
    note: str | None = Field(default=None, max_length=2000, description="For a denial: told to the agent")
    args: dict[str, Any] | None = Field(
        default=None, description="Edit then approve: the arguments to run the tool with instead"
    )


def approval_out(view: approval_inbox.ApprovalView) -> ApprovalOut:
    return ApprovalOut(**{name: getattr(view, name) for name in ApprovalOut.model_fields})


@router.get("", response_model=list[ApprovalOut])
def list_approvals(
    principal: CurrentPrincipal, context: Context, limit: int = Query(default=200, ge=1, le=1000)
) -> list[ApprovalOut]:
    """Open approvals you may decide, oldest first: your own agents' (admins: everyone's)."""
    with context.db.session() as session:
        return [
            approval_out(view)
            for view in approval_inbox.list_pending(session, principal, now=context.clock.now(), limit=limit)
        ]


@router.get("/{approval_id}", response_model=ApprovalOut)
def get_approval(approval_id: str, principal: CurrentPrincipal, context: Context) -> ApprovalOut:
    with context.db.session() as session:
        return approval_out(approval_inbox.get(session, principal, approval_id))


@router.post("/{approval_id}", response_model=ApprovalOut)
async def decide_approval(
    approval_id: str, body: DecisionIn, principal: CurrentPrincipal, request: Request
) -> ApprovalOut:
    choice = approvals.Choice(approve=body.decision == "approve", note=body.note, args=body.args)
    return approval_out(await engine_of(request).decide(principal, approval_id, choice))
