"""A conversation with an agent in its owner's chat: a run started by the owner's direct message posts its
answer back under that message, and the owner's thumbs up or down on the answer is its outcome.

- Which runs answer: those started by a `chat.dm_received` event whose author is the account's owner in
  that chat (`from_owner`, set by the connector hub from the connector's `owner_identity`: Slack's
  `owner_slack_user`, Matrix's `owner_matrix_user`). An outsider's DM starts nothing a chat assistant listens
  to (its trigger matches `from_owner = "true"`), and even a run it did start would not post its output
  anywhere. Only an output that is text answers (runs/workflow.py): a playbook's output (a dict) is its
  report for the run's page, and it tells the owner through its own steps.
- How: as an audited tool call of the run, through the connector's `<connector>_notify_owner` tool
  (`account`, `text`, `thread`), which can write only to the owner's DM, so the platform needs no Slack or
  Matrix API of its own (docs/ARCHITECTURE.md rule 5). The policy gate decides it like any call of the run
  (the agent must be granted the tool on that account; it is `write_internal`, so a tainted run may tell its
  owner), the run records it as a `tool_call` step and the audit log gets its `tool.executed` (or
  `tool.denied`) record with the exact arguments. One post per run: the call carries the idempotency key
  `<run id>:reply`, and it is a workflow step of its own.
- Where the answer went is also a note of the run (`chat_reply`, detail `<account> <room> <message>`: Slack's
  channel and ts, Matrix's room and event id), which is how a reaction on that message finds the run.
- The rating: a `chat.reaction_added` by the owner with a thumbs (`+1`/`thumbsup`/👍 accepted, `-1`/
  `thumbsdown`/👎 not) on an answer records one `question.answered` outcome for its run, with `accepted`
  and the agent's `minutes_saved_per_answer` setting (default `MINUTES_SAVED`). Its id is the run's, so
  the first rating counts and a reaction added again (or delivered again) adds nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.agents.runtime.contract import RunInfo, RunMode, ToolCall, ToolCallStep, ToolStatus, args_digest
from meshclaw.agents.spec import AgentSpec
from meshclaw.context import AppContext
from meshclaw.db.models import AgentVersion, ConnectorAccount, Run, RunStep
from meshclaw.policy.gate import DatabasePolicy, PolicyGate
from meshclaw.tools import caller as callers
from meshclaw.tools import idempotency
from meshclaw.tools.caller import Caller
from meshclaw.tools.registry import ToolError, ToolRegistry

log = logging.getLogger("meshclaw.runs")

ANSWERING_EVENTS = ("chat.dm_received",)
REACTION = "chat.reaction_added"
NOTE = "chat_reply"
OUTCOME = "question.answered"
THUMBS = {"+1": True, "thumbsup": True, "👍": True, "-1": False, "thumbsdown": False, "👎": False}
"""Slack's reaction names and Matrix's emoji (skin tones already removed by the connector)."""
MINUTES_SAVED = 3.0
"""What one answered question saves its owner, unless the agent's settings say otherwise."""


@dataclass(frozen=True, kw_only=True)
class ReplyTarget:
    account: str
    thread: str
    """The message the answer goes under: the thread's root when the question was in one."""
    tool: str
    """The connector's `<connector>_notify_owner`."""


@dataclass(frozen=True, kw_only=True)
class _Asking:
    """What the answer's call needs to know of its run, read in one transaction."""

    target: ReplyTarget
    caller: Caller
    run: RunInfo


def target(session: Session, run: Run) -> ReplyTarget | None:
    """Where this run's answer goes, or None when it was not started by its owner's direct message."""
    detail: Mapping[str, Any] = run.trigger_detail or {}
    if run.trigger_kind != "event" or detail.get("event") not in ANSWERING_EVENTS:
        return None
    fields: Mapping[str, Any] = detail.get("fields") or {}
    if fields.get("from_owner") != "true":
        return None
    # Slack names a message by `ts` (its thread's root by `thread_ts`), Matrix by `event_id` (`thread`).
    thread = fields.get("thread_ts") or fields.get("thread") or fields.get("ts") or fields.get("event_id")
    account = fields.get("account")
    if not isinstance(thread, str) or not thread or not isinstance(account, str):
        return None
    row = session.scalar(
        select(ConnectorAccount).where(
            ConnectorAccount.org_id == run.org_id, ConnectorAccount.name == account
        )
    )
    if row is None:
        return None
    return ReplyTarget(account=account, thread=thread, tool=f"{row.connector}_notify_owner")


def _asking(session: Session, run_id: str) -> _Asking | None:
    run = session.get(Run, run_id)
    found = target(session, run) if run is not None else None
    version = session.get(AgentVersion, run.agent_version_id) if run is not None else None
    if run is None or found is None or version is None:
        return None
    spec = AgentSpec.model_validate(version.spec)
    mode: RunMode = "attended" if run.mode == "attended" else "unattended"
    info = RunInfo(run_id=run.id, agent_id=run.agent_id, owner_user_id=run.owner_user_id, mode=mode, spec=spec,
                   tainted_before=bool((run.trigger_detail or {}).get("untrusted", True)))  # fmt: skip
    caller = Caller(run_id=run_id, agent_id=run.agent_id, owner_user_id=run.owner_user_id)
    return _Asking(target=found, caller=caller, run=info)


@dataclass(frozen=True, kw_only=True)
class Answered:
    """The answer's call as the run records it (a `tool_call` step, audited) and, when it was posted,
    where (the `chat_reply` note's detail)."""

    step: ToolCallStep
    where: str | None


async def post_answer(context: AppContext, tools: ToolRegistry, run_id: str, text: str) -> Answered | None:
    """Post a finished run's answer under the message that started it, as a call the policy gate decides.
    None when the run answers nowhere; otherwise the call, posted or not (a denial or a failure is logged
    and recorded: the run's page still has the answer)."""
    asking = await asyncio.to_thread(_with_session, context, run_id)
    if asking is None or not text.strip():
        return None
    where = asking.target
    tool = tools.get(where.tool)
    if tool is None:
        log.warning("run %s: connector has no %s to answer with", run_id, where.tool)
        return None
    args = tool.args.model_validate({"account": where.account, "text": text[:30000], "thread": where.thread})
    shown: dict[str, Any] = args.model_dump(mode="json")
    digest = args_digest(shown)
    call = ToolCall(tool_call_id=f"{run_id}:reply", name=tool.name, args=shown, args_digest=digest,
                    effect=tool.effect, origin="connector", scopes=tool.scopes)  # fmt: skip
    decision = await PolicyGate(DatabasePolicy(db=context.db)).decide(call, asking.run)

    def step(status: ToolStatus, error: str | None = None, latency_ms: int = 0) -> ToolCallStep:
        return ToolCallStep(tool_call_id=call.tool_call_id, name=call.name, args_digest=digest, effect=tool.effect,
                            decision=decision.decision, reason=decision.reason, status=status, error=error,
                            latency_ms=latency_ms, rule=decision.rule, args=shown)  # fmt: skip

    if decision.decision != "allow":  # a chat answer never waits: it is the run's output, on its page anyway
        log.warning("run %s: its answer was not posted to %s: %s", run_id, where.account, decision.reason)
        return Answered(step=step("denied"), where=None)
    key_token = idempotency.bind(f"{run_id}:reply")
    caller_token = callers.bind(asking.caller)
    started = time.perf_counter()
    try:
        posted = await tool.function(args)
    except (ToolError, OSError) as exc:
        log.warning("run %s: its answer could not be posted to %s: %s", run_id, where.account, exc)
        return Answered(step=step("error", str(exc), int((time.perf_counter() - started) * 1000)), where=None)
    finally:
        callers.unbind(caller_token)
        idempotency.unbind(key_token)
    latency = int((time.perf_counter() - started) * 1000)
    # Slack answers with `channel` and `ts`, Matrix with `room` and `event_id`.
    room = posted.get("channel") or posted.get("room")
    message = posted.get("ts") or posted.get("event_id")
    return Answered(
        step=step("ok", latency_ms=latency), where=note_detail(where.account, str(room), str(message))
    )


def _with_session(context: AppContext, run_id: str) -> _Asking | None:
    with context.db.session() as session:
        return _asking(session, run_id)


def note_detail(account: str, channel: str, ts: str) -> str:
    return f"{account} {channel} {ts}"


def answered_run(session: Session, account: str, channel: str, ts: str) -> Run | None:
    """The run whose answer is this message. (No index on the detail: only owners' thumbs ask this.)"""
    run_id = session.scalar(
        select(RunStep.run_id)
        .where(
            RunStep.kind == "note", RunStep.name == NOTE, RunStep.detail == note_detail(account, channel, ts)
        )
        .limit(1)
    )
    return session.get(Run, run_id) if run_id is not None else None


def rating(fields: Mapping[str, str]) -> bool | None:
    """Whether a reaction accepts (True) or rejects (False) an answer; None: not a rating by the owner."""
    if fields.get("from_owner") != "true":
        return None
    return THUMBS.get(fields.get("reaction", "").split("::")[0])  # `+1::skin-tone-2` is still a thumbs up


def record_rating(session: Session, fields: Mapping[str, str], *, now: Any) -> bool:
    """Record the outcome of the answer a reaction rates. Returns whether one was written."""
    from meshclaw.metering.events import OutcomeEvent
    from meshclaw.metering.prices import PriceBook
    from meshclaw.metering.writer import write_batch

    accepted = rating(fields)
    if accepted is None:
        return False
    # Slack names the message reacted to by `channel` and `ts`, Matrix by `room` and `event_id`.
    room = fields.get("channel") or fields.get("room", "")
    message = fields.get("ts") or fields.get("event_id", "")
    run = answered_run(session, fields.get("account", ""), room, message)
    if run is None:
        return False
    version = session.get(AgentVersion, run.agent_version_id)
    settings = AgentSpec.model_validate(version.spec).settings if version is not None else {}
    minutes = settings.get("minutes_saved_per_answer", MINUTES_SAVED)
    event = OutcomeEvent(
        event_id=f"{run.id}:answered",
        type=OUTCOME,
        occurred_at=now,
        source="agent",
        quantity=1.0,
        accepted=accepted,
        minutes_saved=float(minutes) if accepted and isinstance(minutes, int | float) else 0.0,
        user_id=run.owner_user_id,
        team_id=run.team_id,
        agent_id=run.agent_id,
        run_id=run.id,
        attributes={"reaction": fields.get("reaction", ""), "account": fields.get("account", "")},
    )
    _, written, _ = write_batch(session, usage=[], outcomes=[event], activities=[], prices=PriceBook([]))
    return bool(written)
