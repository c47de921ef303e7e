"""The durable workflow that executes one run, and what makes its effects happen once.

`run_workflow(run_id)` is a DBOS workflow: DBOS checkpoints each step's result, and after a crash it
calls the workflow again from the top, answering completed steps from their checkpoints. The steps are:

1. `begin`: load the run and its agent version, mark it running;
2. the executor's segment, in which every model request and tool call is a checkpointed step of its own
   (`meshclaw.runs.steps`: recorded in `run_checkpoints`, not as DBOS steps), the n-th tool call
   published to the tool as its idempotency key `<run id>:<n>`;
3. if the segment stopped for approval: record the approvals (`meshclaw.runs.approvals`), mark the run
   waiting, wait durably (`DBOS.recv`, up to the approvals' expiry, across restarts) until every one is
   decided or expired, read the decisions from the records, then run the next segment with them;
4. `finish`: record the final status and the totals.

Steps the executor reports (model calls, tool calls) are written to `run_steps` as they are reported,
numbered in order; the same number reported again on replay adds nothing.

DBOS finds a workflow by its registered name and calls it with only its stored arguments, so the
workflow cannot be handed the engine: it reads the engine bound to this process (`bind`). That slot is
the one module-level state here, forced by DBOS's decorator registry; at most one engine is bound per
process, which is also DBOS's own limit (one DBOS instance per process).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from dbos import DBOS

from meshclaw.agents.runtime import checkpoint
from meshclaw.agents.runtime.contract import (
    ApprovalDecision,
    ModelCallStep,
    PendingApproval,
    ResumeState,
    RunRequest,
    RunResult,
    ToolCallStep,
)
from meshclaw.agents.spec import AgentSpec
from meshclaw.audit.chain import AuditLog
from meshclaw.connectors.contract import ApprovalPrompt
from meshclaw.context import AppContext
from meshclaw.db.models import Run
from meshclaw.policy import classifications
from meshclaw.runs import approvals, chat, chat_reply, daily, store, tool_audit
from meshclaw.runs.checkpoints import CheckpointStore
from meshclaw.runs.connector_hub import ConnectorHub
from meshclaw.runs.execution import Execution
from meshclaw.runs.kill_switches import SwitchBoard
from meshclaw.runs.steps import DbosSteps, RecordedSteps, durable_tools
from meshclaw.tools.caller import Caller
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolRegistry

log = logging.getLogger("meshclaw.runs")

Steps = RecordedSteps | DbosSteps

APPROVAL_TOPIC = "approval"
WORKFLOW_NAME = "meshclaw.runs.run"


@dataclass(kw_only=True)
class Binding:
    """What the workflow needs from the process it runs in."""

    context: AppContext
    execution: Execution
    stop_requested: set[str] = field(default_factory=set)
    """Runs a person cancelled; the executor checks before each model and tool call."""
    switches: SwitchBoard | None = None
    """The engaged kill switches, checked with `stop_requested`."""
    hub: ConnectorHub | None = None
    """The connectors' side: shows new approvals in the owner's chats."""
    _checkpoints: CheckpointStore | None = field(default=None, init=False, repr=False)

    def checkpoints(self) -> CheckpointStore:
        """The SQL of the runs' checkpoints, compiled once per process (on the first run)."""
        if self._checkpoints is None:
            self._checkpoints = CheckpointStore(self.context.db)
        return self._checkpoints


_bound: Binding | None = None


def bind(binding: Binding | None) -> None:
    global _bound  # the one slot DBOS's registry forces; see the module docstring
    _bound = binding


def audit_log(context: AppContext) -> AuditLog:
    return AuditLog.for_data_dir(context.settings.data_dir)


def bound() -> Binding:
    if _bound is None:
        raise RuntimeError("no runs engine is running in this process")
    return _bound


# --- steps the executor reports -------------------------------------------------------------------


class RecordingSink:
    """The runtime's `StepSink`: writes reported steps to `run_steps`, numbered in report order.

    Steps are written in batches, at most `FLUSH_S` after they were reported and always before the run
    waits or ends: a transaction per step cost as much as the durable tool step itself. A batch is one
    transaction: one look-up of the seqs recorded already, one multi-row insert, and the audit records of
    its new tool calls appended to the chain at once. A crash loses no record: steps not yet written
    belong to a segment that has not ended, which replay reports again. (A run cancelled mid-way may miss
    its last quarter second of steps.)"""

    FLUSH_S = 0.25

    def __init__(self, binding: Binding, run_id: str) -> None:
        self._binding = binding
        self._run_id = run_id
        self._seq = 0
        self._pending: list[tuple[store.StepRecord, datetime]] = []
        self._last_flush = time.monotonic()
        self._audit: AuditLog | None = None

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def record(self, step: store.StepRecord) -> None:
        self._pending.append((step, self._binding.context.clock.now()))
        if time.monotonic() - self._last_flush >= self.FLUSH_S:
            await self.flush()

    async def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        await asyncio.to_thread(self._write, pending)

    def _write(self, pending: list[tuple[store.StepRecord, datetime]]) -> None:
        context = self._binding.context
        with context.db.session() as session:
            added = store.add_steps(session, self._run_id, pending)
            audited = [(step.tool, at) for step, at in added if step.tool is not None]
            if not audited:
                return
            run = session.get(Run, self._run_id)
            if run is not None:
                if self._audit is None:  # the key is read from its file once per run, not per batch
                    self._audit = audit_log(context)
                tool_audit.append_many(self._audit, session, run, audited)

    async def model_call(self, step: ModelCallStep) -> None:
        tokens = step.tokens
        await self.record(
            store.StepRecord(
                seq=self.next_seq(),
                kind="model_call",
                name=step.model,
                status="ok",
                input_tokens=tokens.input_uncached + tokens.cache_read + tokens.cache_write,
                output_tokens=tokens.output + tokens.reasoning,
                cost_usd=step.cost_usd or 0.0,
                latency_ms=float(step.latency_ms),
                detail=step.purpose,
            )
        )

    async def tool_call(self, step: ToolCallStep) -> None:
        await self.record(
            store.StepRecord(
                seq=self.next_seq(),
                kind="tool_call",
                name=step.name,
                status=step.status,
                effect_class=step.effect.value,
                decision=step.decision,
                detail=step.reason,
                error=step.error,
                latency_ms=float(step.latency_ms),
                tool=step,
            )
        )

    async def note(self, name: str, detail: str) -> None:
        await self.record(
            store.StepRecord(seq=self.next_seq(), kind="note", name=name, status="ok", detail=detail)
        )


# --- the workflow ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Begun:
    """What `begin` checkpoints: enough to rebuild the request without reading the run again."""

    agent_id: int
    agent_version_id: int
    owner_user_id: int
    team_id: int | None
    spec: dict[str, Any]
    input: str
    mode: str
    spent_today: daily.Spent = field(default_factory=daily.Spent)
    """What the agent had spent today when the run began, for its daily caps."""
    mcp_effects: dict[str, str] = field(default_factory=dict)
    """Admins' classes for the agent's MCP tools, by exposed name (the rest count as destructive)."""
    tainted: bool = False
    """Whether what started the run carries outsiders' text (an inbound email's event, a webhook body):
    then the run is tainted from its first step."""
    conversation: dict[str, Any] | None = None
    """A chat message's turns in parts, as its input keeps them (`chat.stored`); a run begun earlier
    unpickles without it (None). Kept as stored, so a checkpoint does not hold the runtime's types."""
    recorded_steps: bool = False
    """Its model requests and tool calls are checkpointed in `run_checkpoints` (`steps.RecordedSteps`).
    Set by every `begin` since; a run begun earlier unpickles without it (False), and resumes with the
    DBOS steps its checkpoints are in."""


def _begin(run_id: str) -> _Begun | None:
    from meshclaw.db.models import AgentVersion

    context = bound().context
    with context.db.session() as session:
        run = store.get_run(session, run_id)
        if run is None:
            raise RuntimeError(f"run {run_id} has no record")
        version = session.get(AgentVersion, run.agent_version_id)
        if version is None:
            raise RuntimeError(f"run {run_id}: agent version {run.agent_version_id} is gone")
        if run.status in store.FINAL:
            return None  # ended before it began: cancelled while queued (by a person or a kill switch)
        now = context.clock.now()
        store.set_status(session, run_id, "running", now=now)
        return _Begun(
            agent_id=run.agent_id,
            agent_version_id=run.agent_version_id,
            owner_user_id=run.owner_user_id,
            team_id=run.team_id,
            spec=dict(version.spec),
            input=str(run.input.get("text", "")),
            mode=run.mode,
            tainted=bool((run.trigger_detail or {}).get("untrusted", False)),
            conversation=run.input.get("conversation"),
            recorded_steps=True,
            spent_today=daily.spent_today(session, run.agent_id, now),
            mcp_effects={
                name: effect.value
                for name, effect in classifications.effects_for(
                    session, run.org_id, AgentSpec.model_validate(version.spec)
                ).items()
            },
        )


def _set_status(run_id: str, status: store.RunState) -> None:
    context = bound().context
    with context.db.session() as session:
        store.set_status(session, run_id, status, now=context.clock.now())


def _finish(run_id: str, status: store.RunState, output: str | None, error: str | None) -> None:
    context = bound().context
    with context.db.session() as session:
        now = context.clock.now()
        ended = store.finish_run(session, run_id, status, output=output, error=error, now=now)
        if ended and status == "budget_exceeded":
            store.notify_over_budget(session, run_id, error=error or "", now=now)


def _output_text(output: str | dict[str, Any] | None) -> str | None:
    if output is None or isinstance(output, str):
        return output
    return json.dumps(output, ensure_ascii=False)


# --- approvals: recorded server-side, read back from the records -------------------------------------


def _record_approvals(run_id: str, pending: tuple[PendingApproval, ...]) -> list[str]:
    context = bound().context
    expires_in = timedelta(hours=context.settings.approval_expiry_hours)
    with context.db.session() as session:
        return approvals.record_pending(
            session, run_id, pending, now=context.clock.now(), expires_in=expires_in
        )


def _record_outcomes(
    run_id: str, owner_user_id: int, team_id: int | None, agent_id: int, notes: list[dict[str, Any]]
) -> int:
    """Write what the run accomplished as outcome events, each once: its id is the run's and its number,
    so a segment that reports earlier outcomes again (a replayed playbook) adds nothing."""
    from meshclaw.metering.events import OutcomeEvent
    from meshclaw.metering.prices import PriceBook
    from meshclaw.metering.writer import write_batch

    context = bound().context
    now = context.clock.now()
    events = [
        OutcomeEvent(event_id=f"{run_id}:outcome:{note['seq']}", type=note["type"], occurred_at=now,
                     source="agent", quantity=note["quantity"], accepted=note["accepted"],
                     minutes_saved=note["minutes_saved"], user_id=owner_user_id, team_id=team_id,
                     agent_id=agent_id, run_id=run_id, attributes=dict(note["attributes"]) or None)
        for note in notes
    ]  # fmt: skip
    with context.db.session() as session:
        _, written, _ = write_batch(session, usage=[], outcomes=events, activities=[], prices=PriceBook([]))
    return written


async def _announce_approvals(approval_ids: list[str]) -> int:
    """Show the new approvals in the owner's chats (Slack, Matrix); how many messages were posted."""
    binding = bound()
    if binding.hub is None:
        return 0
    owner, prompts = await asyncio.to_thread(_prompts, binding.context, approval_ids)
    if owner is None or not prompts:
        return 0
    return await binding.hub.announce(owner, prompts)


def _prompts(context: AppContext, approval_ids: list[str]) -> tuple[int | None, list[ApprovalPrompt]]:
    from meshclaw.db.models import Agent, Approval

    prompts: list[ApprovalPrompt] = []
    owner: int | None = None
    base = context.settings.resolved_public_url
    with context.db.session() as session:
        for approval_id in approval_ids:
            row = session.get(Approval, approval_id)
            if row is None or row.status != "pending":
                continue
            agent = session.get(Agent, row.agent_id)
            owner = row.owner_user_id
            prompts.append(
                ApprovalPrompt(
                    approval_id=row.id,
                    agent_name=agent.name if agent is not None else f"agent {row.agent_id}",
                    tool_name=row.tool,
                    effect=row.effect,
                    args_text=json.dumps(row.args, indent=2, sort_keys=True, ensure_ascii=False, default=str),
                    reason=row.reason,
                    expires_at=row.expires_at,
                    url=f"{base}/approvals/{row.id}",
                )
            )
    return owner, prompts


def _collect_approvals(approval_ids: list[str]) -> dict[str, Any]:
    context = bound().context
    with context.db.session() as session:
        return approvals.collect(session, approval_ids, now=context.clock.now(), audit=audit_log(context))


async def _await_decisions(approval_ids: list[str]) -> list[dict[str, Any]]:
    """Wait durably until every approval is decided or expired. A message on the topic only wakes the
    run: the decisions come from the approval records (`collect`, checkpointed), never from a message."""
    while True:
        collected: dict[str, Any] = await _step("approvals.collect", _collect_approvals, approval_ids)
        if "decisions" in collected:
            decided: list[dict[str, Any]] = collected["decisions"]
            return decided
        # Half a second past the next expiry, so the collect after a timeout finds it expired.
        await DBOS.recv_async(APPROVAL_TOPIC, timeout_seconds=float(collected["wait_s"]) + 0.5)


def _decisions(
    pending: tuple[PendingApproval, ...], decided: list[dict[str, Any]]
) -> tuple[ApprovalDecision, ...]:
    """One decision per call that waited, as the records say; a call without one is denied."""
    answers = {str(item["tool_call_id"]): item for item in decided}
    decisions = []
    for call in pending:
        answer = answers.get(call.tool_call_id)
        if answer is None:
            decisions.append(
                ApprovalDecision(tool_call_id=call.tool_call_id, approved=False, args_digest=call.args_digest,
                                 reason="no person approved this call")
            )  # fmt: skip
            continue
        args = answer.get("args")
        decisions.append(
            ApprovalDecision(
                tool_call_id=call.tool_call_id,
                approved=bool(answer["approved"]),
                args_digest=str(answer["args_digest"]),
                approval_id=answer.get("approval_id"),
                reason=answer.get("reason"),
                args=dict(args) if args is not None else None,
            )
        )
    return tuple(decisions)


async def _step(name: str, func: Callable[..., Any], *args: Any) -> Any:
    return await DBOS.run_step_async({"name": name}, func, *args)


@DBOS.workflow(name=WORKFLOW_NAME)
async def run_workflow(run_id: str) -> str:
    binding = bound()
    begun: _Begun | None = await _step("begin", _begin, run_id)
    if begun is None:
        return "ended"
    limited = daily.narrowed(AgentSpec.model_validate(begun.spec), begun.spent_today)
    request = RunRequest(
        run_id=run_id,
        agent_id=begun.agent_id,
        agent_version_id=begun.agent_version_id,
        owner_user_id=begun.owner_user_id,
        team_id=begun.team_id,
        spec=limited.spec,
        input=begun.input,
        mode="attended" if begun.mode == "attended" else "unattended",
        # getattr: a run begun before this field existed resumes from a checkpoint without it.
        mcp_effects={name: EffectClass(value) for name, value in getattr(begun, "mcp_effects", {}).items()},
        tainted=getattr(begun, "tainted", False),
        # Kept across the run's segments (`replace` below keeps it): what the trigger's outsiders wrote.
        untrusted_input=getattr(begun, "tainted", False),
        conversation=chat.conversation_of(getattr(begun, "conversation", None)),
    )
    sink = RecordingSink(binding, run_id)
    caller = Caller(run_id=run_id, agent_id=begun.agent_id, owner_user_id=begun.owner_user_id)
    steps = await RecordedSteps.load(binding.checkpoints(), run_id) if begun.recorded_steps else DbosSteps()
    tools = durable_tools(binding.execution.tools, run_id, steps, caller)
    # Model requests are checkpointed too (agents.runtime.checkpoint): a replay after a crash neither
    # pays for them again nor lets a model that answers differently diverge from the recorded tool steps.
    checkpoint.bind(steps)
    while True:
        result = daily.explained(
            await _segment(binding, request, sink, tools, steps), request.spec, limited.capped
        )
        if result.outcomes:
            notes = [asdict(note) for note in result.outcomes]
            await _step("outcomes.record", _record_outcomes, run_id, begun.owner_user_id, begun.team_id,
                        begun.agent_id, notes)  # fmt: skip
        if result.status != "waiting_approval":
            break
        await sink.note("approval_requested", _pending_json(result.pending))
        await sink.flush()
        approval_ids = await _step("approvals.record", _record_approvals, run_id, result.pending)
        # A step of its own: a replay after a crash does not post the same approvals to the chat again.
        await DBOS.run_step_async({"name": "approvals.announce", "retries_allowed": False},
                                  _announce_approvals, approval_ids)  # fmt: skip
        await _step("wait", _set_status, run_id, "waiting_approval")
        decided = await _await_decisions(approval_ids)
        await sink.note("approval_decided", json.dumps(decided, default=str))
        await _step("resume", _set_status, run_id, "running")
        history = result.history or b""
        request = replace(
            request,
            resume=ResumeState(history=history, decisions=_decisions(result.pending, decided)),
            tainted=result.tainted,  # taint survives the approval: the next segment starts as tainted
        )
    answer = _output_text(result.output)
    if result.status == "succeeded" and isinstance(result.output, str) and answer:
        # A run its owner started with a chat DM answers under that message (runs/chat_reply.py): a call
        # the gate decides, recorded and audited like the run's others; a step of its own, so a replay
        # does not post the answer twice. Only a text answers: a playbook's output is a report for the
        # run's page (it tells the owner through its own steps), and posting it would put JSON under
        # every DM that also started, say, deploy on request.
        answered = await DBOS.run_step_async({"name": "chat.reply", "retries_allowed": False},
                                             _reply_in_chat, run_id, answer)  # fmt: skip
        if answered is not None:
            await sink.tool_call(answered.step)
            if answered.where:
                await sink.note(chat_reply.NOTE, answered.where)
    await sink.flush()
    await _step("finish", _finish, run_id, result.status, answer, result.error)
    return result.status


async def _reply_in_chat(run_id: str, answer: str) -> chat_reply.Answered | None:
    binding = bound()
    return await chat_reply.post_answer(binding.context, binding.execution.tools, run_id, answer)


async def _segment(
    binding: Binding, request: RunRequest, sink: RecordingSink, tools: ToolRegistry, steps: Steps
) -> RunResult:
    switches = binding.switches

    def should_stop() -> bool:
        # `steps.ended`: the run's record ended in another process (DBOS's step check used to see that).
        if request.run_id in binding.stop_requested or steps.ended:
            return True
        return switches is not None and switches.stops(
            agent_id=request.agent_id, owner_user_id=request.owner_user_id
        )

    try:
        return await binding.execution.execute(request, sink=sink, tools=tools, should_stop=should_stop)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith("dbos"):
            raise  # cancellation and DBOS's own errors end the workflow as DBOS decides
        log.exception("run %s: the executor raised", request.run_id)
        return RunResult(
            status="failed", error=f"the run stopped on an internal error: {type(exc).__name__}: {exc}"
        )


def _pending_json(pending: tuple[PendingApproval, ...]) -> str:
    return json.dumps(
        [
            {
                "tool_call_id": call.tool_call_id,
                "tool": call.tool_name,
                "args": dict(call.args),
                "args_digest": call.args_digest,
                "effect": call.effect.value,
                "reason": call.reason,
            }
            for call in pending
        ],
        default=str,
    )
