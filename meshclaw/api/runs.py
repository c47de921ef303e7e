"""/api/v1/runs: run history, "run now", cancel, and approval decisions for a waiting run.

A run is authorized as its agent (see `meshclaw.runs.history`). Starting answers 202 at once with the
run's id; poll GET /api/v1/runs/{id} (or use `meshclaw agents run --wait`) for its end. A run a guard
refused is still answered 202, with status `skipped` and the reason in `error`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.row_ids import RowIdQuery
from meshclaw.errors import BadRequestError
from meshclaw.runs import approvals, history, store
from meshclaw.runs.engine import RunEngine, RunsUnavailableError

router = APIRouter(prefix="/runs", tags=["runs"])


class RunOut(BaseModel):
    id: str
    agent_id: int
    agent_name: str
    agent_version_id: int
    owner_user_id: int
    owner_email: str
    trigger_kind: str = Field(description="manual, chat, cron, interval, once, event or dream")
    trigger_detail: dict[str, Any]
    mode: str = Field(description="attended (a person started it) or unattended (a trigger did)")
    status: str = Field(description=", ".join(store.RUN_STATES))
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


class StepOut(BaseModel):
    seq: int
    kind: str = Field(description="model_call, tool_call or note")
    name: str
    effect_class: str | None
    decision: str | None = Field(
        description="The policy decision for a tool call: allow, deny, needs_approval"
    )
    status: str
    detail: str | None
    error: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_ms: float
    at: datetime


class RunDetailOut(RunOut):
    steps: list[StepOut]
    pending_approvals: list[dict[str, Any]]
    untrusted_sources: list[str] = Field(
        description="Where content outsiders can write came into the run (its answer may repeat it): what "
        "started it, when that carried such content (an inbound email's event, earlier chat replies), then "
        "the tools that returned it"
    )


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent: int | str = Field(description="Agent id, or the name of one of your own agents")
    input: str = Field(default="", max_length=100_000, description="The task or message for this run")


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tool_call_id: str
    approved: bool
    reason: str | None = Field(default=None, max_length=2000, description="For a denial: told to the agent")


class DecisionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decisions: list[Decision] = Field(min_length=1)


def run_out(view: history.RunView) -> RunOut:
    return RunOut(**{name: getattr(view, name) for name in RunOut.model_fields})


def detail_out(found: history.RunDetail) -> RunDetailOut:
    return RunDetailOut(
        **run_out(found.run).model_dump(),
        steps=[StepOut(**vars(step)) for step in found.steps],
        pending_approvals=found.pending_approvals,
        untrusted_sources=found.untrusted_sources,
    )


def engine_of(request: Request) -> RunEngine:
    engine = getattr(request.app.state, "runs", None)
    if not isinstance(engine, RunEngine):
        raise RunsUnavailableError("this server does not execute runs (runs_engine is off)")
    return engine


@router.get("", response_model=list[RunOut])
def list_runs(
    principal: CurrentPrincipal,
    context: Context,
    agent_id: RowIdQuery | None = None,
    status: str | None = None,
    owner_user_id: RowIdQuery | None = None,
    before: datetime | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> list[RunOut]:
    if status is not None and status not in store.RUN_STATES:
        raise BadRequestError(f"status must be one of {', '.join(store.RUN_STATES)}", field="status")
    with context.db.session() as session:
        views = history.list_visible(
            session,
            principal,
            agent_id=agent_id,
            status=status,
            owner_user_id=owner_user_id,
            limit=limit,
            before=before,
        )
    return [run_out(view) for view in views]


@router.get("/{run_id}", response_model=RunDetailOut)
def get_run(run_id: str, principal: CurrentPrincipal, context: Context) -> RunDetailOut:
    with context.db.session() as session:
        return detail_out(history.detail(session, principal, run_id))


@router.post("", response_model=RunOut, status_code=202)
async def start_run(
    body: RunCreate, principal: CurrentPrincipal, context: Context, request: Request
) -> RunOut:
    engine = engine_of(request)

    def start() -> RunOut:
        with context.db.session() as session:
            agent = history.find_agent(session, principal, body.agent)
        run_id = engine.start_run(
            agent.id,
            trigger_kind="manual",
            trigger_detail={"by": principal.email},
            input_text=body.input,
            mode="attended",
            started_by_user_id=principal.user_id,
        )
        assert run_id is not None  # a fresh id never collides
        with context.db.session() as session:
            return detail_out(history.detail(session, principal, run_id))

    return await asyncio.to_thread(start)


@router.post("/{run_id}/cancel", response_model=RunOut)
async def cancel_run(run_id: str, principal: CurrentPrincipal, context: Context, request: Request) -> RunOut:
    engine = engine_of(request)

    def check() -> None:
        with context.db.session() as session:
            history.authorized_run(session, principal, run_id, "update")

    await asyncio.to_thread(check)
    await engine.cancel(run_id)
    with context.db.session() as session:
        return detail_out(history.detail(session, principal, run_id))


@router.post("/{run_id}/approvals", response_model=RunOut, status_code=202)
async def decide(
    run_id: str, body: DecisionsIn, principal: CurrentPrincipal, context: Context, request: Request
) -> RunOut:
    """Approve or deny every call a run waits for at once (a call left out is denied): the same approval
    records as /api/v1/approvals, decided and audited before the run resumes."""
    engine = engine_of(request)

    def check() -> None:
        with context.db.session() as session:
            history.authorized_run(session, principal, run_id, "update")

    await asyncio.to_thread(check)
    answers = {
        decision.tool_call_id: approvals.Choice(approve=decision.approved, note=decision.reason)
        for decision in body.decisions
    }
    await engine.decide_run(principal, run_id, answers)
    with context.db.session() as session:
        return detail_out(history.detail(session, principal, run_id))
