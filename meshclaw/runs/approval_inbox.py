"""Who sees which approvals: the inbox (open approvals a person may decide), one approval by id, a run's
open approvals, and the view of a record that the API, the pages and the CLI show.

An approval is authorized as its run's agent: whoever may update the agent (its owner, admins) decides
it and finds it in their inbox; whoever may read the agent (managers of the owner's team, auditors) may
open it; to anyone else it does not exist (404, as for an id that never existed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meshclaw.db.models import Agent, Approval, Run, User
from meshclaw.errors import NotFoundError, PermissionDeniedError
from meshclaw.identity.authorize import Action, Resource, is_allowed, reach
from meshclaw.identity.principal import Principal


@dataclass(frozen=True, kw_only=True)
class ApprovalView:
    id: str
    run_id: str
    tool_call_id: str
    agent_id: int
    agent_name: str
    owner_user_id: int
    owner_email: str
    tool: str
    effect: str
    args: dict[str, Any]
    """The exact arguments the model asked for."""
    approved_args: dict[str, Any] | None
    args_digest: str
    reason: str
    status: str
    requested_at: datetime
    expires_at: datetime
    decided_by_user_id: int | None
    decided_at: datetime | None
    note: str | None
    used_at: datetime | None

    @property
    def pending(self) -> bool:
        return self.status == "pending"


def _resource(row: Approval) -> Resource:
    return Resource(kind="agent", id=row.agent_id, owner_user_id=row.owner_user_id, team_id=row.team_id)


def authorized(session: Session, principal: Principal, approval_id: str, action: Action) -> Approval:
    row = session.get(Approval, approval_id)
    missing = NotFoundError(f"approval {approval_id} does not exist")
    if row is None or row.org_id != principal.org_id:
        raise missing
    if not is_allowed(principal, action, _resource(row)):
        if action != "read" and is_allowed(principal, "read", _resource(row)):
            raise PermissionDeniedError("only the agent's owner or an admin decides its approvals")
        raise missing
    return row


def get(session: Session, principal: Principal, approval_id: str) -> ApprovalView:
    return views(session, [authorized(session, principal, approval_id, "read")])[0]


def list_pending(
    session: Session, principal: Principal, *, now: datetime, limit: int = 200
) -> list[ApprovalView]:
    """The open approvals `principal` may decide, oldest first (admins: everyone's)."""
    query = _decidable(principal, now)
    if query is None:
        return []
    rows = list(session.scalars(query.order_by(Approval.requested_at, Approval.id).limit(limit)))
    return views(session, rows)


def pending_count(session: Session, principal: Principal, *, now: datetime) -> int:
    query = _decidable(principal, now)
    if query is None:
        return 0
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _open(org_id: int, now: datetime) -> Any:
    """Approvals that can still be decided: pending, not past their expiry (the run marks them expired
    when it wakes), of a run still waiting (a run a kill switch stopped leaves its approvals behind)."""
    waiting = select(Run.id).where(Run.status == "waiting_approval")
    return select(Approval).where(
        Approval.org_id == org_id,
        Approval.status == "pending",
        Approval.expires_at > now,
        Approval.run_id.in_(waiting),
    )


def _decidable(principal: Principal, now: datetime) -> Any:
    granted = reach(principal, "update", "agent")
    if granted is None:
        return None
    query = _open(principal.org_id, now)
    if granted == "own":
        query = query.where(Approval.owner_user_id == principal.user_id)
    elif granted == "team":
        teams = sorted(principal.managed_team_ids)
        query = query.where((Approval.owner_user_id == principal.user_id) | Approval.team_id.in_(teams))
    return query


def operator_pending(session: Session, org_id: int, *, now: datetime) -> list[ApprovalView]:
    """Every open approval of the organization, for the operator's CLI."""
    rows = session.scalars(_open(org_id, now).order_by(Approval.requested_at, Approval.id))
    return views(session, list(rows))


def open_for_run(session: Session, run_id: str) -> list[ApprovalView]:
    """A run's approvals still pending (one past its expiry stays here until the run wakes to expire it,
    within a second; it can no longer be decided)."""
    rows = list(
        session.scalars(
            select(Approval)
            .where(Approval.run_id == run_id, Approval.status == "pending")
            .order_by(Approval.requested_at, Approval.id)
        )
    )
    return views(session, rows)


def views(session: Session, rows: list[Approval]) -> list[ApprovalView]:
    if not rows:
        return []
    names = dict(
        session.execute(select(Agent.id, Agent.name).where(Agent.id.in_({r.agent_id for r in rows}))).all()
    )
    emails = dict(
        session.execute(select(User.id, User.email).where(User.id.in_({r.owner_user_id for r in rows}))).all()
    )
    return [
        ApprovalView(
            id=row.id,
            run_id=row.run_id,
            tool_call_id=row.tool_call_id,
            agent_id=row.agent_id,
            agent_name=names.get(row.agent_id, f"agent {row.agent_id}"),
            owner_user_id=row.owner_user_id,
            owner_email=emails.get(row.owner_user_id, ""),
            tool=row.tool,
            effect=row.effect,
            args=dict(row.args),
            approved_args=dict(row.approved_args) if row.approved_args is not None else None,
            args_digest=row.args_digest,
            reason=row.reason,
            status=row.status,
            requested_at=row.requested_at,
            expires_at=row.expires_at,
            decided_by_user_id=row.decided_by_user_id,
            decided_at=row.decided_at,
            note=row.note,
            used_at=row.used_at,
        )
        for row in rows
    ]
