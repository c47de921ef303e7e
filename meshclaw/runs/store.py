"""The SQL of runs and their steps. Callers authorize (the interfaces) and decide (engine, guards).

Writes are idempotent where a crash can repeat them: a run is inserted once (its id is the primary key),
a step once per (run, seq), and a final status is never overwritten, so a run cancelled by a person stays
cancelled even if its workflow gets to write its own ending afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meshclaw.agents.runtime.contract import ToolCallStep
from meshclaw.db.models import Agent, Run, RunStep
from meshclaw.notifications.store import notify

RunState = Literal[
    "queued",
    "running",
    "waiting_approval",
    "succeeded",
    "failed",
    "budget_exceeded",
    "cancelled",
    "skipped",
]
RUN_STATES: tuple[RunState, ...] = (
    "queued",
    "running",
    "waiting_approval",
    "succeeded",
    "failed",
    "budget_exceeded",
    "cancelled",
    "skipped",
)
ACTIVE: tuple[RunState, ...] = ("queued", "running", "waiting_approval")
FINAL: tuple[RunState, ...] = ("succeeded", "failed", "budget_exceeded", "cancelled", "skipped")
TriggerKind = Literal["manual", "chat", "cron", "interval", "once", "event", "dream"]
StepKind = Literal["model_call", "tool_call", "note"]


@dataclass(frozen=True, kw_only=True)
class NewRun:
    id: str
    org_id: int
    agent_id: int
    agent_version_id: int
    owner_user_id: int
    team_id: int | None
    started_by_user_id: int | None
    trigger_kind: TriggerKind
    trigger_detail: dict[str, Any]
    mode: Literal["attended", "unattended"]
    input: dict[str, Any]
    parent_run_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class StepRecord:
    seq: int
    kind: StepKind
    name: str
    status: str
    effect_class: str | None = None
    decision: str | None = None
    detail: str | None = None
    error: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    tool: ToolCallStep | None = None
    """For a tool call: the step as the runtime reported it, for its audit record."""


def insert_run(
    session: Session, new: NewRun, *, status: RunState, now: datetime, error: str | None = None
) -> bool:
    """Insert the run; False when a run with that id exists already (a trigger slot fired twice)."""
    if session.get(Run, new.id) is not None:
        return False
    final = status in FINAL
    row = Run(
        id=new.id,
        org_id=new.org_id,
        agent_id=new.agent_id,
        agent_version_id=new.agent_version_id,
        owner_user_id=new.owner_user_id,
        team_id=new.team_id,
        started_by_user_id=new.started_by_user_id,
        trigger_kind=new.trigger_kind,
        trigger_detail=new.trigger_detail,
        mode=new.mode,
        status=status,
        input=new.input,
        error=error,
        input_tokens=0,
        output_tokens=0,
        cost_usd=0.0,
        parent_run_id=new.parent_run_id,
        created_at=now,
        ended_at=now if final else None,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # Another process inserted the same id between our look and our insert.
        return False
    return True


def get_run(session: Session, run_id: str) -> Run | None:
    return session.get(Run, run_id)


def set_status(session: Session, run_id: str, status: RunState, *, now: datetime) -> None:
    """Move an active run to another active state; a final run keeps its status."""
    values: dict[str, Any] = {"status": status}
    if status == "running":
        values["started_at"] = func.coalesce(Run.started_at, now)
    session.execute(update(Run).where(Run.id == run_id, Run.status.in_(ACTIVE)).values(**values))


def finish_run(
    session: Session,
    run_id: str,
    status: RunState,
    *,
    output: str | None,
    error: str | None,
    now: datetime,
) -> bool:
    """Record the ending and the totals summed from the steps; False if the run had ended already."""
    totals = session.execute(
        select(
            func.coalesce(func.sum(RunStep.input_tokens), 0),
            func.coalesce(func.sum(RunStep.output_tokens), 0),
            func.coalesce(func.sum(RunStep.cost_usd), 0.0),
        ).where(RunStep.run_id == run_id)
    ).one()
    result = session.execute(
        update(Run)
        .where(Run.id == run_id, Run.status.in_(ACTIVE))
        .values(
            status=status,
            output=output,
            error=error,
            input_tokens=int(totals[0]),
            output_tokens=int(totals[1]),
            cost_usd=float(totals[2]),
            started_at=func.coalesce(Run.started_at, now),
            ended_at=now,
        )
    )
    return bool(getattr(result, "rowcount", 0))


def notify_over_budget(session: Session, run_id: str, *, error: str, now: datetime) -> None:
    """Tell the run's owner it ended `budget_exceeded` and why (in the caller's transaction)."""
    run = session.get(Run, run_id)
    if run is None:
        return
    name = session.scalar(select(Agent.name).where(Agent.id == run.agent_id)) or f"agent {run.agent_id}"
    notify(session, org_id=run.org_id, user_id=run.owner_user_id, kind="run.budget_exceeded",
           text=f"A run of your agent '{name}' stopped over budget: {error}", link=f"/runs/{run_id}", now=now)  # fmt: skip


def add_steps(
    session: Session, run_id: str, steps: Sequence[tuple[StepRecord, datetime]]
) -> list[tuple[StepRecord, datetime]]:
    """Record a batch of steps, each once, and return those that were new (in order): the same (run, seq)
    again after a crash adds nothing. One query for the seqs recorded already and one multi-row insert,
    rather than a look-up and an ORM flush per step."""
    if not steps:
        return []
    seqs = [step.seq for step, _ in steps]
    recorded = set(
        session.scalars(
            select(RunStep.seq).where(RunStep.run_id == run_id, RunStep.seq.between(min(seqs), max(seqs)))
        )
    )
    new: list[tuple[StepRecord, datetime]] = []
    for step, at in steps:
        if step.seq not in recorded:
            recorded.add(step.seq)
            new.append((step, at))
    if new:
        session.execute(
            insert(RunStep),
            [
                {"run_id": run_id, "seq": step.seq, "kind": step.kind, "name": step.name[:200],
                 "effect_class": step.effect_class, "decision": step.decision, "status": step.status,
                 "detail": step.detail, "error": step.error, "input_tokens": step.input_tokens,
                 "output_tokens": step.output_tokens, "cost_usd": step.cost_usd, "latency_ms": step.latency_ms,
                 "at": at}
                for step, at in new
            ],
        )  # fmt: skip
    return new


def untrusted_sources(session: Session, run_ids: Sequence[str]) -> dict[str, list[str]]:
    """Per run, the tools that returned content outsiders can write (read_untrusted calls that ran), in
    order: what a person should know before trusting the run's answer."""
    query = (
        select(RunStep.run_id, RunStep.name)
        .where(RunStep.run_id.in_(list(run_ids)), RunStep.kind == "tool_call",
               RunStep.effect_class == "read_untrusted", RunStep.status == "ok")
        .order_by(RunStep.run_id, RunStep.seq)
    )  # fmt: skip
    found: dict[str, list[str]] = {}
    for run_id, name in session.execute(query).all():
        names = found.setdefault(run_id, [])
        if name not in names:
            names.append(name)
    return found


EARLIER_REPLIES = "earlier replies in this conversation"
"""How a chat message's run that began tainted names where the outsiders' text came from."""


def trigger_taint(run: Run) -> str | None:
    """What in the way the run was started carries outsiders' text, named for a person (None: nothing):
    an event outsiders can cause (an inbound email, someone's message, a webhook) or, for a chat message,
    earlier replies written after reading such text. The run was tainted from its first step."""
    detail = run.trigger_detail or {}
    if not detail.get("untrusted"):
        return None
    if run.trigger_kind == "chat":
        return EARLIER_REPLIES
    return f"the event that started it ({detail.get('event') or run.trigger_kind})"


def steps_of(session: Session, run_id: str) -> list[RunStep]:
    return list(session.scalars(select(RunStep).where(RunStep.run_id == run_id).order_by(RunStep.seq)).all())


def runs_since(session: Session, agent_id: int, since: datetime) -> int:
    """Runs of the agent created since `since` that were not skipped (what the daily cap counts)."""
    count = session.scalar(
        select(func.count())
        .select_from(Run)
        .where(Run.agent_id == agent_id, Run.created_at >= since, Run.status != "skipped")
    )
    return int(count or 0)


def active_runs(session: Session, agent_id: int) -> int:
    count = session.scalar(
        select(func.count()).select_from(Run).where(Run.agent_id == agent_id, Run.status.in_(ACTIVE))
    )
    return int(count or 0)


def list_runs(
    session: Session,
    org_id: int,
    *,
    agent_id: int | None = None,
    status: str | None = None,
    owner_user_id: int | None = None,
    visible_owner_ids: Sequence[int] | None = None,
    visible_team_ids: Sequence[int] | None = None,
    limit: int = 50,
    before: datetime | None = None,
) -> list[Run]:
    """Newest first. `visible_*` narrow to what the caller may read (either matches); None = everything."""
    query = select(Run).where(Run.org_id == org_id)
    if agent_id is not None:
        query = query.where(Run.agent_id == agent_id)
    if status is not None:
        query = query.where(Run.status == status)
    if owner_user_id is not None:
        query = query.where(Run.owner_user_id == owner_user_id)
    if before is not None:
        query = query.where(Run.created_at < before)
    reach = []
    if visible_owner_ids is not None:
        reach.append(Run.owner_user_id.in_(list(visible_owner_ids)))
    if visible_team_ids is not None:
        reach.append(Run.team_id.in_(list(visible_team_ids)))
    if reach:
        query = query.where(or_(*reach))
    return list(session.scalars(query.order_by(Run.created_at.desc(), Run.id).limit(limit)).all())
