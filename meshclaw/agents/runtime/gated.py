"""Every tool call of a run passes here: the gate decides, the sink records, then (maybe) the tool runs.

One wrapper around each toolset (registry tools, each MCP server), after pydantic-ai validated the
arguments against the tool's schema (invalid arguments go back to the model as a retry and never reach
the gate). Then:

- deny: the tool does not run; the model reads why, as the tool's result;
- needs_approval: the call is deferred (`ApprovalRequired`) with the exact arguments and their digest; the
  segment ends `waiting_approval`, and on resume pydantic-ai calls the tool again with the approval, which
  the gate re-checks against the digest before anything runs;
- allow: the tool runs under its timeout. An error the tool reports (`ToolError`, an MCP tool's error
  result) goes back to the model; a tool that hangs or whose server is gone ends the run (`ToolBroke`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic_ai import RunContext
from pydantic_ai.exceptions import ApprovalRequired, CallDeferred, ModelRetry, ToolFailed
from pydantic_ai.toolsets import AbstractToolset, WrapperToolset
from pydantic_ai.toolsets.abstract import ToolsetTool
from pydantic_core import to_jsonable_python

from meshclaw.agents.runtime.contract import (
    ApprovalDecision,
    GateDecision,
    RunInfo,
    RunRequest,
    StepSink,
    ToolCall,
    ToolCallStep,
    ToolGate,
    ToolOrigin,
    ToolStatus,
    args_digest,
)
from meshclaw.agents.runtime.event_input import trigger_event
from meshclaw.agents.runtime.flow import UntrustedContent
from meshclaw.agents.runtime.refused import refused_args, refused_text
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolError
from meshclaw.tools.result_view import WITHHOLD_ALL, ResultView, outsiders_text

DENIED_BY_POLICY = "The tool call was denied by policy:"
"""How the model reads a refused call (the reason follows)."""
DENIED_BY_PERSON = "A person denied this tool call:"
"""How the model reads a call a person denied (`loop._decisions`; the person's reason follows)."""


class ToolBroke(Exception):
    """A tool could not be run at all (it hung, its server crashed): the run fails with this message."""


class RunStopped(Exception):
    """The kill switch said stop before the next call."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolMeta:
    effect: EffectClass
    origin: ToolOrigin
    scopes: tuple[str, ...] = ()
    timeout_s: float | None = None
    label: str = ""
    """How errors name the tool's source, e.g. "MCP server 'chat'"."""
    untrusted_result: bool = False
    """Whether its result can be written by outsiders (it taints the run); see `ToolSpec.returns_untrusted`."""
    view: ResultView = WITHHOLD_ALL
    """What of an untrusted result an answer may still read (`ToolSpec.view`); MCP tools declare nothing."""


@dataclass(kw_only=True)
class SegmentState:
    """What the wrappers of one segment share: the run, its callbacks and what has happened so far."""

    request: RunRequest
    sink: StepSink
    gate: ToolGate
    should_stop: Callable[[], bool] | None = None
    approvals: Mapping[str, ApprovalDecision] = field(default_factory=dict)
    effects_seen: set[EffectClass] = field(default_factory=set)
    tool_calls: int = 0
    calls_decided: int = 0
    """Calls the gate decided in this segment, whatever it said (and calls of tools the run does not offer,
    `unoffered`): what the tool-call limit holds refused calls to."""
    tool_calls_limit: int | None = None
    """The segment's share of `max_tool_calls` (set by `loop.execute`)."""
    untrusted: UntrustedContent = field(default_factory=UntrustedContent)
    """What outsiders wrote that this run read (set up from `request.tainted` in `__post_init__`)."""

    def __post_init__(self) -> None:
        self.untrusted.unknown_before = self.request.tainted
        if self.request.untrusted_input:
            # Named as a taint source, so an approval's reason and the audit say which event outsiders
            # wrote ("event email.received"), not "an earlier step"; playbooks do the same (`Steps`).
            event = trigger_event(self.request.input)
            if event is None:  # not the engine's event line (a value imitating a field): name it plainly
                self.untrusted.add_event("the event that started the run", ())
            else:
                self.untrusted.add_event(f"event {event.type}", event.fields.values())

    def run_info(self) -> RunInfo:
        request = self.request
        return RunInfo(
            run_id=request.run_id,
            agent_id=request.agent_id,
            owner_user_id=request.owner_user_id,
            mode=request.mode,
            spec=request.spec,
            effects_seen=frozenset(self.effects_seen),
            tainted_before=request.tainted,
            untrusted=self.untrusted,
        )

    @property
    def tainted(self) -> bool:
        return (
            self.request.tainted
            or bool(self.untrusted.sources)
            or EffectClass.READ_UNTRUSTED in self.effects_seen
        )

    def check_stop(self) -> None:
        if self.should_stop is not None and self.should_stop():
            raise RunStopped


def shown_args(tool_args: dict[str, Any]) -> dict[str, Any]:
    """The arguments as JSON, as the model gave them: a registry tool's single pydantic model is unwrapped."""
    if len(tool_args) == 1:
        (value,) = tool_args.values()
        if isinstance(value, BaseModel):
            dumped: dict[str, Any] = value.model_dump(mode="json")
            return dumped
    jsonable: dict[str, Any] = to_jsonable_python(tool_args)
    return jsonable


@dataclass
class GatedToolset(WrapperToolset[None]):
    state: SegmentState = field(kw_only=True)
    meta: Callable[[str], ToolMeta] = field(kw_only=True)

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[None], tool: ToolsetTool[None]
    ) -> Any:
        self.state.check_stop()

        def invoke() -> Awaitable[Any]:
            return super(GatedToolset, self).call_tool(name, tool_args, ctx, tool)

        return await gate_and_call(self.state, name=name, tool_args=tool_args, call_id=ctx.tool_call_id or "",
                                   approved=ctx.tool_call_approved, meta=self.meta(name), invoke=invoke)  # fmt: skip


async def gate_and_call(
    state: SegmentState,
    *,
    name: str,
    tool_args: dict[str, Any],
    call_id: str,
    approved: bool,
    meta: ToolMeta,
    invoke: Callable[[], Awaitable[Any]],
) -> Any:
    """One tool call whose arguments were validated: the gate decides, the sink records, then (maybe)
    `invoke` runs the tool. Shared by the pydantic-ai toolsets (`GatedToolset`) and the direct loop
    (`direct`), so both paths gate, record and taint alike. The caller checked the kill switch."""
    args = shown_args(tool_args)
    digest = args_digest(args)
    approval = state.approvals.get(call_id) if approved else None
    if approval is not None:
        # Single use: an approval counts for the one call it was given for, once per segment.
        state.approvals = {key: value for key, value in state.approvals.items() if key != call_id}
    call = ToolCall(tool_call_id=call_id, name=name, args=args, args_digest=digest, effect=meta.effect,
                    origin=meta.origin, scopes=meta.scopes, approval=approval)  # fmt: skip
    state.calls_decided += 1
    decision = await state.gate.decide(call, state.run_info())
    if approval is not None and approval.approved and approval.args_digest != digest:
        # Checked here too, whatever the gate: an approval binds the digest of the exact arguments.
        decision = GateDecision(
            decision="deny", reason="the approval was given for other arguments than this call has"
        )
    elif decision.decision == "needs_approval" and approval is not None:
        # Approved, yet the gate still asks: an approval can only be used for what it was given for.
        decision = GateDecision(
            decision="deny", reason=f"not allowed despite the approval: {decision.reason}"
        )

    async def record(status: ToolStatus, error: str | None = None, latency_ms: int = 0) -> None:
        # A refused call did nothing: its record keeps the model's arguments and the reason cut to a size.
        refused = status == "denied"
        await state.sink.tool_call(
            ToolCallStep(tool_call_id=call_id, name=name, args_digest=digest, effect=meta.effect,
                         decision=decision.decision, status=status, error=error, latency_ms=latency_ms,
                         reason=refused_text(decision.reason) if refused else decision.reason,
                         approval_id=approval.approval_id if approval else None, rule=decision.rule,
                         args=refused_args(args) if refused else args,
                         taint_sources=tuple(state.untrusted.sources))
        )  # fmt: skip

    if decision.decision == "deny":
        await record("denied")
        return f"{DENIED_BY_POLICY} {decision.reason}"
    if decision.decision == "needs_approval":
        await record("pending")
        raise ApprovalRequired(
            metadata={"args": args, "args_digest": digest, "effect": meta.effect.value,
                      "reason": decision.reason}
        )  # fmt: skip
    return await _run(state, name, meta, record, invoke)


async def _run(
    state: SegmentState,
    name: str,
    meta: ToolMeta,
    record: Callable[..., Awaitable[None]],
    invoke: Callable[[], Awaitable[Any]],
) -> Any:
    started = time.perf_counter()

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        async with asyncio.timeout(meta.timeout_s):
            result = await invoke()
    except ToolError as error:
        await record("error", str(error), elapsed())
        _ran(state, meta)
        return f"The tool failed: {error}"
    except (ModelRetry, ToolFailed) as error:
        if _connection_lost(error):
            message = f"the tool '{name}' lost its server mid-call (it crashed or closed the connection)"
            await record("error", message, elapsed())
            raise ToolBroke(f"{message}; {meta.label}" if meta.label else message) from error
        await record("error", _message(error), elapsed())
        _ran(state, meta)
        raise
    except (ApprovalRequired, CallDeferred):
        raise
    except TimeoutError:
        message = f"the tool '{name}' did not answer within {meta.timeout_s:g} s"
        await record("error", message, elapsed())
        raise ToolBroke(f"{message} ({meta.label})" if meta.label else message) from None
    except Exception as error:
        message = f"the tool '{name}' could not be run ({type(error).__name__})"
        await record("error", message, elapsed())
        raise ToolBroke(f"{message}; {meta.label}" if meta.label else message) from error
    await record("ok", None, elapsed())
    _ran(state, meta)
    if meta.untrusted_result or meta.effect is EffectClass.READ_UNTRUSTED:
        state.untrusted.add(name, result)
    elif meta.view.mixed:
        # Records of the owner's and outsiders' text in one result (memory a tainted run recalls): the
        # outsiders' part counts like any untrusted result, so an argument copied from it is seen as such.
        outsiders = outsiders_text(meta.view, result)
        if outsiders:
            state.untrusted.add(name, outsiders)
    return result


def _ran(state: SegmentState, meta: ToolMeta) -> None:
    state.tool_calls += 1
    state.effects_seen.add(meta.effect)


CONNECTION_CLOSED = -32000
"""The MCP SDK's error code for a session whose server went away; pydantic-ai turns it into a retry."""


def _connection_lost(error: Exception) -> bool:
    """Whether an MCP call failed because the server is gone: retrying cannot help, so the run fails."""
    cause = error.__cause__
    code = getattr(cause, "code", None)
    if code is None:
        code = getattr(getattr(cause, "error", None), "code", None)
    return code == CONNECTION_CLOSED


def _message(error: Exception) -> str:
    text = getattr(error, "message", None)
    return str(text if text is not None else error)[:500]


def gated(
    toolset: AbstractToolset[None], state: SegmentState, meta: Callable[[str], ToolMeta]
) -> GatedToolset:
    return GatedToolset(toolset, state=state, meta=meta)
