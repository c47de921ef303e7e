"""Approvals: a person's decision on one tool call a run waits for, kept server-side and bound to the
exact action.

The life of an approval:

1. the run's segment stops `waiting_approval`; the workflow records one `approvals` row per pending call
   (`record_pending`, a DBOS step) with the exact arguments, their digest, the gate's reason and an expiry
   (`approval_expiry_hours`, default 24 h);
2. a person decides (`decide`): approve, deny, or edit the arguments then approve. The decision and its
   audit record (`approval.granted` / `approval.denied`) commit in one transaction *before* the run hears
   of it. Only a `pending`, unexpired row can be decided, by one conditional UPDATE, so deciding twice
   answers 409 and a decision after the expiry 410;
3. the engine wakes the run (`DBOS.send`); the message carries nothing but the wake-up. The run reads its
   decisions from these rows (`collect`, a DBOS step), marks approved ones `used` and expires the ones
   past their time (denied, "approval expired"). What a client sends, or what text in the model's history
   or a tool's result claims, never approves anything;
4. at execution the runtime's gate re-checks the call against the approval's digest, which the server
   computed from the stored (or edited, then validated) arguments. The client never supplies a digest.

Who sees and decides which approval, and the view of one, are `approval_inbox`'s.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from meshclaw.agents.runtime.contract import PendingApproval, args_digest
from meshclaw.audit.chain import AuditLog
from meshclaw.audit.record import AuditRecord
from meshclaw.db.models import Approval, Run
from meshclaw.errors import ConflictError, InvalidInputError, NotFoundError
from meshclaw.identity.principal import Principal
from meshclaw.runs import approval_inbox
from meshclaw.runs.approval_inbox import ApprovalView as ApprovalView  # what a decision returns

ApprovalStatus = Literal["pending", "approved", "denied", "expired", "used"]
STATUSES: tuple[ApprovalStatus, ...] = ("pending", "approved", "denied", "expired", "used")
EXPIRED_REASON = "approval expired"
"""What the model reads for a call nobody decided in time."""

ArgsModel = Callable[[str], type[BaseModel] | None]
"""The pydantic model of a tool's arguments by tool name (None: a tool the server cannot validate)."""


class ApprovalExpiredError(ConflictError):
    status = 410
    code = "approval_expired"


@dataclass(frozen=True, kw_only=True)
class Choice:
    """What a person decided for one approval."""

    approve: bool
    note: str | None = None
    args: Mapping[str, Any] | None = None
    """Edited arguments to approve instead of the asked ones (approve only)."""


def new_id() -> str:
    """128 random bits: an approval id cannot be guessed or derived from another."""
    return secrets.token_hex(16)


def _changed(result: object) -> int:
    """Rows an UPDATE changed (`rowcount`, which the typed `Result` does not declare)."""
    return int(getattr(result, "rowcount", 0) or 0)


# --- the workflow's side ------------------------------------------------------------------------------


def record_pending(
    session: Session, run_id: str, pending: Sequence[PendingApproval], *, now: datetime, expires_in: timedelta
) -> list[str]:
    """One `pending` row per call the run waits for; returns their ids in order. Safe to repeat: a call
    already recorded as pending with the same arguments keeps its row (a step re-run after a crash)."""
    run = session.get(Run, run_id)
    if run is None:
        raise RuntimeError(f"run {run_id} has no record")
    ids: list[str] = []
    for call in pending:
        args = dict(call.args)
        digest = args_digest(args)
        existing = session.scalar(
            select(Approval.id).where(
                Approval.run_id == run_id,
                Approval.tool_call_id == call.tool_call_id,
                Approval.args_digest == digest,
                Approval.status == "pending",
            )
        )
        if existing is not None:
            ids.append(existing)
            continue
        row = Approval(
            id=new_id(),
            org_id=run.org_id,
            run_id=run_id,
            tool_call_id=call.tool_call_id,
            agent_id=run.agent_id,
            owner_user_id=run.owner_user_id,
            team_id=run.team_id,
            tool=call.tool_name,
            effect=call.effect.value,
            args=args,
            # Recomputed here rather than taken from the runtime: the record is what the server vouches for.
            args_digest=digest,
            reason=call.reason,
            status="pending",
            requested_at=now,
            expires_at=now + expires_in,
        )
        session.add(row)
        ids.append(row.id)
    session.flush()
    return ids


def collect(session: Session, ids: Sequence[str], *, now: datetime, audit: AuditLog) -> dict[str, Any]:
    """What the waiting run resumes with, once every one of its approvals is decided or expired:
    `{"decisions": [...]}` (plain dicts, one per id, for a checkpoint), with approved rows marked `used`
    and overdue ones `expired`. While some are still open: `{"wait_s": seconds to the next expiry}`."""
    rows = list(session.scalars(select(Approval).where(Approval.id.in_(ids))))
    by_id = {row.id: row for row in rows}
    open_rows = [row for row in rows if row.status == "pending" and row.expires_at > now]
    if open_rows:
        return {"wait_s": max(0.0, min((row.expires_at - now).total_seconds() for row in open_rows))}
    decisions: list[dict[str, Any]] = []
    for approval_id in ids:
        row = by_id.get(approval_id)
        if row is None:
            continue
        if row.status == "pending":
            _expire(session, row, now=now, audit=audit)
        if row.status == "approved":
            # Conditional, like every status change: an approval is used once.
            session.execute(
                update(Approval).where(Approval.id == row.id, Approval.status == "approved")
                .values(status="used", used_at=now)
            )  # fmt: skip
            session.refresh(row)
        if row.status == "used":
            decisions.append(
                {"tool_call_id": row.tool_call_id, "approved": True, "args_digest": row.args_digest,
                 "approval_id": row.id, "args": row.approved_args, "reason": None}
            )  # fmt: skip
            continue
        reason = EXPIRED_REASON if row.status == "expired" else (row.note or "no reason given")
        decisions.append(
            {"tool_call_id": row.tool_call_id, "approved": False, "args_digest": row.args_digest,
             "approval_id": row.id, "args": None, "reason": reason}
        )  # fmt: skip
    session.flush()
    return {"decisions": decisions}


def _expire(session: Session, row: Approval, *, now: datetime, audit: AuditLog) -> None:
    expired = _changed(
        session.execute(
            update(Approval)
            .where(Approval.id == row.id, Approval.status == "pending")
            .values(status="expired")
        )
    )
    session.refresh(row)
    if expired != 1:
        return  # decided a moment before it expired: the decision stands
    audit.append(
        session,
        AuditRecord(kind="approval.denied", actor_agent_id=row.agent_id, on_behalf_of_user_id=row.owner_user_id,
                    invoked_by="expiry", tool=row.tool, effect_class=row.effect, arguments=row.args,
                    decision="deny", rule="approval expired", approval_id=row.id, outcome="expired",
                    run_id=row.run_id),
        now=now,
    )  # fmt: skip


def close_for_run(session: Session, run_id: str) -> None:
    """A run that ended (cancelled) leaves nothing to decide: its open approvals expire."""
    session.execute(
        update(Approval)
        .where(Approval.run_id == run_id, Approval.status == "pending")
        .values(status="expired")
    )


# --- deciding -----------------------------------------------------------------------------------------


def decide(
    session: Session,
    principal: Principal | None,
    approval_id: str,
    choice: Choice,
    *,
    now: datetime,
    audit: AuditLog,
    args_model: ArgsModel,
) -> ApprovalView:
    """Record `principal`'s decision with its audit record, in the caller's transaction. The caller wakes
    the run after the commit. `principal` None is the operator's shell (the CLI), which may decide any."""
    if principal is None:
        row = session.get(Approval, approval_id)
        if row is None:
            raise NotFoundError(
                f"approval {approval_id} does not exist; `meshclaw approvals list` shows them"
            )
    else:
        row = approval_inbox.authorized(session, principal, approval_id, "update")
    return _decide_row(session, principal, row, choice, now=now, audit=audit, args_model=args_model)


def decide_run(
    session: Session,
    principal: Principal,
    run_id: str,
    answers: Mapping[str, Choice],
    *,
    now: datetime,
    audit: AuditLog,
    args_model: ArgsModel,
) -> list[ApprovalView]:
    """Decide every open approval of a run at once, by tool call id (`POST /runs/{id}/approvals`); a call
    left out is denied. Answers for calls the run does not wait for are refused."""
    rows = list(
        session.scalars(
            select(Approval)
            .where(Approval.run_id == run_id, Approval.status == "pending")
            .order_by(Approval.id)
        )
    )
    if not rows:
        raise ConflictError(f"run {run_id} is not waiting for an approval")
    unknown = set(answers) - {row.tool_call_id for row in rows}
    if unknown:
        raise ConflictError(f"run {run_id} is not waiting for the call(s) {', '.join(sorted(unknown))}")
    left_out = Choice(approve=False, note="no decision was given for this call")
    return [
        _decide_row(session, principal, row, answers.get(row.tool_call_id, left_out), now=now, audit=audit,
                    args_model=args_model)
        for row in rows
    ]  # fmt: skip


def _decide_row(
    session: Session,
    principal: Principal | None,
    row: Approval,
    choice: Choice,
    *,
    now: datetime,
    audit: AuditLog,
    args_model: ArgsModel,
) -> ApprovalView:
    if row.status == "expired" or (row.status == "pending" and row.expires_at <= now):
        raise ApprovalExpiredError(
            f"approval {row.id} expired at {row.expires_at:%Y-%m-%d %H:%M} UTC; nothing can be decided"
        )
    if row.status != "pending":
        raise ConflictError(f"approval {row.id} was already decided (it is {row.status}); it counts once")
    run_status = session.scalar(select(Run.status).where(Run.id == row.run_id))
    if run_status != "waiting_approval":
        raise ConflictError(f"run {row.run_id} is not waiting for an approval (it is {run_status})")
    edited: dict[str, Any] | None = None
    if choice.args is not None:
        if not choice.approve:
            raise InvalidInputError("edited arguments go with an approval, not a denial", field="args")
        edited = validated_args(row.tool, choice.args, args_model)
        if args_digest(edited) == row.args_digest:
            edited = None  # approved as asked
    digest = args_digest(edited) if edited is not None else row.args_digest
    note = (choice.note or "").strip()[:2000] or None
    decided_by = principal.user_id if principal is not None else None
    # One conditional UPDATE: of two people deciding at once, exactly one changes the row.
    changed = _changed(session.execute(
        update(Approval)
        .where(Approval.id == row.id, Approval.status == "pending", Approval.expires_at > now)
        .values(status="approved" if choice.approve else "denied", decided_by_user_id=decided_by,
                decided_at=now, note=note, approved_args=edited, args_digest=digest)
    ))  # fmt: skip
    if changed != 1:
        raise ConflictError(f"approval {row.id} was decided by someone else a moment ago")
    audit.append(
        session,
        AuditRecord(
            kind="approval.granted" if choice.approve else "approval.denied",
            actor_agent_id=row.agent_id,
            on_behalf_of_user_id=row.owner_user_id,
            invoked_by=_invoked_by(principal),
            tool=row.tool,
            effect_class=row.effect,
            arguments=edited if edited is not None else row.args,
            decision="allow" if choice.approve else "deny",
            rule="edited then approved" if edited is not None else "approval",
            approval_id=row.id,
            approver_user_id=decided_by,
            outcome="approved" if choice.approve else "denied",
            run_id=row.run_id,
        ),
        now=now,
    )
    session.refresh(row)
    return approval_inbox.views(session, [row])[0]


def _invoked_by(principal: Principal | None) -> str:
    if principal is None:
        return "cli"
    return f"api-key:{principal.key_id}" if principal.key_id is not None else f"user:{principal.user_id}"


def validated_args(tool: str, args: Mapping[str, Any], args_model: ArgsModel) -> dict[str, Any]:
    """Edited arguments as the tool would receive them: checked against the tool's schema and normalized
    (defaults filled in), so their digest is the one the gate computes when the call runs. A tool whose
    schema the server does not hold (an MCP tool) is checked by the runtime before it runs; arguments that
    fail there do not run either."""
    if not isinstance(args, Mapping):
        raise InvalidInputError("the edited arguments must be a JSON object", field="args")
    model = args_model(tool)
    if model is None:
        return dict(args)
    try:
        dumped: dict[str, Any] = model.model_validate(dict(args)).model_dump(mode="json")
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'arguments'}: {problem['msg']}"
            for problem in error.errors()[:5]
        )
        raise InvalidInputError(
            f"the edited arguments do not fit the tool '{tool}': {problems}", field="args"
        ) from None
    return dumped
