"""Dreams as runs: the nightly slot of every agent with `dreaming`, and the executor of a dream run.

A dream is a run of the agent with trigger kind `dream`, so it is admitted by the same guards (kill
switches, daily caps, no overlap), shows in the run history, and its model calls are metered by the
gateway and counted in `run_steps` like any other run's. The engine fires one per night per agent at
`dreaming.at` in `dreaming.timezone` (a slot, as for cron triggers: the run id is derived from the agent
and the slot, so two ticks or two processes record one run); a person can start one now (API, CLI).

`with_dreams` wraps the engine's execution: a run whose record says `dream` runs the consolidation
(`meshclaw.agents.memory.dreaming`) instead of the agent's own loop; every other run is passed through.
The merges go through the wrapped execution with a tool-less request, so they take the same model path
(and, in the workflow, the same checkpointed model steps) as the agent's runs. Replays are safe: the
`dreams` row is unique per run, and a run that finds its dream recorded returns that night's diary.

The night's outcome is one `memory.consolidated` outcome event with the counts (id `<run id>:dream`,
written in the transaction that applies the night, so it exists exactly when the dream does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from meshclaw.agents.memory import dreams as dream_rows
from meshclaw.agents.memory.dreaming import DreamReport, Plan, apply, merge_all, model_merger, plan
from meshclaw.agents.runtime.contract import RunRequest, RunResult, StepSink
from meshclaw.agents.spec import Dreaming
from meshclaw.context import AppContext
from meshclaw.db.models import Run
from meshclaw.metering.events import OutcomeEvent
from meshclaw.metering.prices import PriceBook
from meshclaw.metering.writer import write_batch
from meshclaw.runs.execution import Execution
from meshclaw.runs.triggers import trigger_key
from meshclaw.tools.registry import ToolRegistry

TRIGGER_KIND: Final = "dream"
OUTCOME = "memory.consolidated"


def run_id_for_night(agent_id: int, dreaming: Dreaming, slot: datetime) -> str:
    return f"dream-{agent_id}-{trigger_key(dreaming.cron())}-{slot.strftime('%Y%m%dT%H%M%S%z')}"


def _is_dream(context: AppContext, run_id: str) -> bool:
    with context.db.session() as session:
        run = session.get(Run, run_id)
        return run is not None and run.trigger_kind == TRIGGER_KIND


def with_dreams(context: AppContext, execution: Execution) -> Execution:
    """`execution`, except that dream runs consolidate memory."""

    async def execute(
        request: RunRequest, *, sink: StepSink, tools: ToolRegistry, should_stop: Callable[[], bool]
    ) -> RunResult:
        if not await asyncio.to_thread(_is_dream, context, request.run_id):
            return await execution.execute(request, sink=sink, tools=tools, should_stop=should_stop)
        return await dream_run(context, execution, request, sink=sink, should_stop=should_stop)

    return Execution(execute=execute, tools=execution.tools)


async def dream_run(
    context: AppContext,
    execution: Execution,
    request: RunRequest,
    *,
    sink: StepSink,
    should_stop: Callable[[], bool],
) -> RunResult:
    spec = request.spec
    if not spec.memory:
        return RunResult(
            status="failed", error="the agent has memory = false: there is nothing to dream about"
        )
    if should_stop():
        return RunResult(status="cancelled", error="stopped before dreaming")
    dreaming = spec.dreaming or Dreaming()
    done = await asyncio.to_thread(_recorded, context, request.run_id)
    if done is not None:
        return _result(done.diary, done.counts)

    def planned() -> Plan:
        with context.db.session() as session:
            now = context.clock.now()
            return plan(session, agent_id=request.agent_id, now=now, max_drop_share=dreaming.max_drop_share)

    night = await asyncio.to_thread(planned)

    async def run_model(merge: RunRequest) -> RunResult:
        if should_stop():
            return RunResult(status="cancelled")
        return await execution.execute(merge, sink=sink, tools=ToolRegistry(), should_stop=should_stop)

    merger = model_merger(request, run_model) if spec.model is not None else None
    merged, used = await merge_all(night, merger, max_tokens=dreaming.max_tokens)
    if should_stop():
        return RunResult(status="cancelled", error="stopped while dreaming; memory was not changed")

    def applied() -> DreamReport:
        with context.db.session() as session:
            report = apply(
                session,
                plan=night,
                merged=merged,
                tokens=used,
                now=context.clock.now(),
                run_id=request.run_id,
            )
            _record_outcome(session, request, report, context.clock.now())
            return report

    report = await asyncio.to_thread(applied)
    return _result(report.diary, report.counts)


def _recorded(context: AppContext, run_id: str) -> dream_rows.DreamInfo | None:
    with context.db.session() as session:
        return dream_rows.by_run(session, run_id)


def _result(diary: str, counts: dict[str, int]) -> RunResult:
    # The run's tokens are its model-call steps (the merges), recorded as they were made.
    return RunResult(status="succeeded", output=diary)


def _record_outcome(session: Session, request: RunRequest, report: DreamReport, now: datetime) -> None:
    counts = report.counts
    event = OutcomeEvent(
        event_id=f"{request.run_id}:dream",
        type=OUTCOME,
        occurred_at=now,
        source="agent",
        quantity=float(counts["merged_items"] + counts["dropped_untrusted"]),
        user_id=request.owner_user_id,
        team_id=request.team_id,
        agent_id=request.agent_id,
        run_id=request.run_id,
        attributes={**counts, "dream_id": report.dream_id, "snapshot_id": report.snapshot_id},
    )
    write_batch(session, usage=[], outcomes=[event], activities=[], prices=PriceBook([]))
