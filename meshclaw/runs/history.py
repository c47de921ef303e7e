"""Run history as people see it: runs and their steps, filtered to what the principal may read.

A run is authorized as its agent (`agent` in `meshclaw.identity.authorize`): whoever may read the agent
reads its runs (the owner, managers of the owner's team at the time of the run, auditors, admins);
whoever may update it starts, cancels and decides its runs (the owner, admins).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.db.models import Agent, Run, RunStep, User
from meshclaw.db.row_ids import row_id_of
from meshclaw.errors import NotFoundError, PermissionDeniedError
from meshclaw.identity.authorize import Action, Resource, authorize, reach
from meshclaw.identity.principal import Principal
from meshclaw.runs import approval_inbox, store


@dataclass(frozen=True, kw_only=True)
class RunView:
    id: str
    agent_id: int
    agent_name: str
    agent_version_id: int
    owner_user_id: int
    owner_email: str
    trigger_kind: str
    trigger_detail: dict[str, Any]
    mode: str
    status: str
    input: str
    output: str | None
    error: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    parent_run_id: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status in store.ACTIVE


@dataclass(frozen=True, kw_only=True)
class StepView:
    seq: int
    kind: str
    name: str
    effect_class: str | None
    decision: str | None
    status: str
    detail: str | None
    error: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RunDetail:
    run: RunView
    steps: list[StepView]
    pending_approvals: list[dict[str, Any]]
    """The approvals still open (`meshclaw.runs.approvals`): id, the exact call, why, and when it expires."""
    untrusted_sources: list[str]
    """The tools that brought content outsiders can write into the run: its answer may repeat that content."""


def run_resource(run: Run) -> Resource:
    return Resource(kind="agent", id=run.agent_id, owner_user_id=run.owner_user_id, team_id=run.team_id)


def _views(session: Session, runs: list[Run]) -> list[RunView]:
    agent_ids = {run.agent_id for run in runs}
    owner_ids = {run.owner_user_id for run in runs}
    names = (
        dict(session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(agent_ids))).all())
        if runs
        else {}
    )
    emails = (
        dict(session.execute(select(User.id, User.email).where(User.id.in_(owner_ids))).all()) if runs else {}
    )
    return [
        RunView(
            id=run.id,
            agent_id=run.agent_id,
            agent_name=names.get(run.agent_id, f"agent {run.agent_id}"),
            agent_version_id=run.agent_version_id,
            owner_user_id=run.owner_user_id,
            owner_email=emails.get(run.owner_user_id, ""),
            trigger_kind=run.trigger_kind,
            trigger_detail=dict(run.trigger_detail),
            mode=run.mode,
            status=run.status,
            input=str(run.input.get("text", "")),
            output=run.output,
            error=run.error,
            input_tokens=run.input_tokens,
            output_tokens=run.output_tokens,
            cost_usd=run.cost_usd,
            parent_run_id=run.parent_run_id,
            created_at=run.created_at,
            started_at=run.started_at,
            ended_at=run.ended_at,
        )
        for run in runs
    ]


def _step(row: RunStep) -> StepView:
    return StepView(
        seq=row.seq,
        kind=row.kind,
        name=row.name,
        effect_class=row.effect_class,
        decision=row.decision,
        status=row.status,
        detail=row.detail,
        error=row.error,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cost_usd=row.cost_usd,
        latency_ms=row.latency_ms,
        at=row.at,
    )


def list_visible(
    session: Session,
    principal: Principal,
    *,
    agent_id: int | None = None,
    status: str | None = None,
    owner_user_id: int | None = None,
    limit: int = 50,
    before: datetime | None = None,
) -> list[RunView]:
    granted = reach(principal, "read", "agent")
    if granted is None:
        raise PermissionDeniedError("your role does not allow reading runs")
    owners: list[int] | None = None
    teams: list[int] | None = None
    if granted != "all":
        owners = [principal.user_id]
        if granted == "team":
            teams = sorted(principal.managed_team_ids)
    runs = store.list_runs(
        session,
        principal.org_id,
        agent_id=agent_id,
        status=status,
        owner_user_id=owner_user_id,
        visible_owner_ids=owners,
        visible_team_ids=teams,
        limit=limit,
        before=before,
    )
    return _views(session, runs)


def authorized_run(session: Session, principal: Principal, run_id: str, action: Action) -> Run:
    """The run, if `principal` may perform `action` on it; 404 for runs of another organization."""
    run = store.get_run(session, run_id)
    if run is None or run.org_id != principal.org_id:
        raise NotFoundError(f"run {run_id} does not exist")
    authorize(principal, action, run_resource(run))
    return run


def detail(session: Session, principal: Principal, run_id: str) -> RunDetail:
    return _detail(session, authorized_run(session, principal, run_id, "read"))


def _detail(session: Session, run: Run) -> RunDetail:
    run_id = run.id
    steps = [_step(row) for row in store.steps_of(session, run_id)]
    pending = [
        {"id": view.id, "tool_call_id": view.tool_call_id, "tool": view.tool, "args": view.args,
         "args_digest": view.args_digest, "effect": view.effect, "reason": view.reason,
         "requested_at": view.requested_at, "expires_at": view.expires_at}
        for view in approval_inbox.open_for_run(session, run_id)
    ]  # fmt: skip
    started = store.trigger_taint(run)
    untrusted = [*([started] if started else []), *store.untrusted_sources(session, [run_id]).get(run_id, [])]
    return RunDetail(
        run=_views(session, [run])[0], steps=steps, pending_approvals=pending, untrusted_sources=untrusted
    )


def operator_list(
    session: Session, org_id: int, *, agent_id: int | None = None, status: str | None = None, limit: int = 50
) -> list[RunView]:
    """Every run of the organization, for the operator's CLI."""
    return _views(session, store.list_runs(session, org_id, agent_id=agent_id, status=status, limit=limit))


def operator_detail(session: Session, run_id: str) -> RunDetail:
    """One run with its steps, for the operator's CLI."""
    run = store.get_run(session, run_id)
    if run is None:
        raise NotFoundError(f"run {run_id} does not exist; `meshclaw runs list` shows the newest")
    return _detail(session, run)


def agent_resource(session: Session, agent: Agent) -> Resource:
    team_id = session.scalar(select(User.team_id).where(User.id == agent.owner_user_id))
    return Resource(kind="agent", id=agent.id, owner_user_id=agent.owner_user_id, team_id=team_id)


def authorize_agent(session: Session, principal: Principal, agent_id: int, action: Action) -> Agent:
    """The agent, if `principal` may `action` it (update = start its runs)."""
    row = session.execute(
        select(Agent, User.team_id).join(User, User.id == Agent.owner_user_id).where(Agent.id == agent_id)
    ).first()
    if row is None or row[0].org_id != principal.org_id:
        raise NotFoundError(f"agent {agent_id} does not exist")
    agent, team_id = row
    authorize(
        principal,
        action,
        Resource(kind="agent", id=agent.id, owner_user_id=agent.owner_user_id, team_id=team_id),
    )
    return agent


def find_agent(session: Session, principal: Principal, ref: str | int) -> Agent:
    """An agent by id, or by name among the principal's own agents."""
    if isinstance(ref, int) or (ref.isascii() and ref.isdigit()):
        agent_id = row_id_of(str(ref))
        if agent_id is None:  # no row has it, and the database driver would refuse it (a 500)
            raise NotFoundError(f"no agent has the id {str(ref)[:30]}", field="agent")
        return authorize_agent(session, principal, agent_id, "update")
    agent = session.scalar(
        select(Agent).where(
            Agent.org_id == principal.org_id, Agent.owner_user_id == principal.user_id, Agent.name == ref
        )
    )
    if agent is None:
        raise NotFoundError(f"you have no agent named '{ref}'", field="agent")
    return authorize_agent(session, principal, agent.id, "update")
