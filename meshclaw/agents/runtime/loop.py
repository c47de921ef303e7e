"""`execute`: one segment of a run (see `contract`), on the direct loop (`direct`) when the segment is
simple, else over pydantic-ai's `Agent.iter`.

Stepping through the graph node by node, rather than `Agent.run`, is what lets the runtime record each
model call as it happens (tokens, cost, latency), stop on the cost limit right after the response that
crossed it, and check the kill switch before every model request. pydantic-ai's own `UsageLimits` enforce
steps, tool calls and tokens; the wall-time limit is an `asyncio.timeout` around the segment.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic_ai import (
    Agent,
    AgentRunResult,
    DeferredToolRequests,
    DeferredToolResults,
    StructuredDict,
    ToolApproved,
    ToolDenied,
    UsageLimits,
    capture_run_messages,
)
from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelHTTPError,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
)
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models import Model
from pydantic_ai.toolsets import AbstractToolset

from meshclaw.agents.runtime import clean_answer, direct, history, unoffered
from meshclaw.agents.runtime.contract import (
    LimitName,
    ModelCallStep,
    ModelFactory,
    ModelUnavailable,
    PendingApproval,
    RunRequest,
    RunResult,
    RunStatus,
    RunToolSource,
    StepSink,
    TokenCounts,
    ToolCallStep,
    ToolGate,
    UsageTotals,
)
from meshclaw.agents.runtime.gated import DENIED_BY_PERSON, RunStopped, SegmentState, ToolBroke, ToolMeta
from meshclaw.agents.runtime.models import open_model
from meshclaw.agents.runtime.taint import CURRENT
from meshclaw.agents.runtime.toolsets import function_toolset, gated_mcp, mcp_toolset, registry_tools
from meshclaw.agents.runtime.usage import (
    add_tokens,
    add_usage,
    limit_named,
    no_room_left,
    remaining_limits,
    token_counts,
)
from meshclaw.errors import MeshclawError
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolRegistry

log = logging.getLogger("meshclaw.agents.runtime")

TOOL_RETRIES = 2
"""How often the model may retry a tool call whose arguments fail the schema before the run fails."""

NO_MODEL = (
    "the agent '{name}' has no model, so it cannot run a model step; set `model` in its definition to a "
    "model a provider serves (`meshclaw providers list`), or add one with "
    "`meshclaw providers add NAME --kind openai|anthropic|openai-compatible --base-url URL --models MODEL`"
)


class CostExceeded(Exception):
    pass


class LimitReached(Exception):
    """A limit the runtime checks itself (not pydantic-ai's `UsageLimits`): the clean answer's request."""

    def __init__(self, limit: LimitName, detail: str) -> None:
        super().__init__(detail)
        self.limit = limit
        self.detail = detail


@dataclass(kw_only=True)
class _Meter:
    """What the segment's model calls used, kept as they happen so a run that fails midway reports it."""

    tokens: TokenCounts = field(default_factory=TokenCounts)
    cost_usd: float | None = None
    requests: int = 0

    def totals(self, tool_calls: int) -> UsageTotals:
        return UsageTotals(
            tokens=self.tokens, cost_usd=self.cost_usd, requests=self.requests, tool_calls=tool_calls
        )


@dataclass(kw_only=True)
class _Segment:
    request: RunRequest
    state: SegmentState
    model_factory: ModelFactory
    meter: _Meter = field(default_factory=_Meter)
    recorded: set[int] = field(default_factory=set)
    """ids of the responses already recorded as steps."""
    clean_answer: bool = False
    """Whether the answer was written again apart from outsiders' text (`clean_answer`)."""

    def result(self, status: RunStatus, **fields: Any) -> RunResult:
        return RunResult(
            status=status,
            usage=self.meter.totals(self.state.tool_calls),
            tainted=self.state.tainted,
            clean_answer=self.clean_answer,
            **fields,
        )


async def execute(
    request: RunRequest,
    *,
    sink: StepSink,
    gate: ToolGate,
    tools: ToolRegistry,
    model_factory: ModelFactory,
    run_tools: Sequence[RunToolSource] = (),
    should_stop: Callable[[], bool] | None = None,
    engine: Literal["auto", "graph"] = "auto",
) -> RunResult:
    """Run one segment of `request`: from its input, or from `request.resume`, until the agent answers,
    a per-run limit trips, a tool call needs approval, or `should_stop()` (the kill switch, checked before
    every model and tool call) says stop. `engine="graph"` runs even a simple segment on pydantic-ai's
    agent graph instead of the direct loop (`direct`), for tests that compare the two. Never raises for what the agent or its tools did: every outcome
    is a `RunResult`; only cancellation of the calling task propagates."""
    approvals = {d.tool_call_id: d for d in request.resume.decisions} if request.resume else {}
    state = SegmentState(request=request, sink=sink, gate=gate, should_stop=should_stop, approvals=approvals)
    segment = _Segment(request=request, state=state, model_factory=model_factory)
    spec = request.spec
    if spec.model is None:
        return segment.result("failed", error=NO_MODEL.format(name=spec.name))
    limits, used_up = remaining_limits(spec.limits, request.spent)
    seconds = spec.limits.max_seconds - request.spent_seconds
    if used_up is None and seconds <= 0:
        used_up = "max_seconds"
    if used_up is None:  # the money, as the clean answer's request is held to it too
        used_up = no_room_left(spec.limits, request.spent)
    if used_up is not None:
        return _over(segment, used_up)
    state.tool_calls_limit = limits.tool_calls_limit
    current = CURRENT.set(state)
    try:
        async with asyncio.timeout(seconds):
            return await _segment(segment, tools, run_tools, limits, engine)
    except TimeoutError:
        return _over(segment, "max_seconds")
    except UsageLimitExceeded as error:
        return _over(segment, limit_named(str(error)) or "max_steps", detail=error.message)
    except CostExceeded:
        return _over(segment, "max_cost_usd")
    except LimitReached as error:
        return _over(segment, error.limit, detail=error.detail)
    except RunStopped:
        return segment.result("cancelled", error="the run was stopped (kill switch) before its next step")
    except ModelUnavailable as error:
        return segment.result("failed", error=str(error))
    except ToolBroke as error:
        return segment.result("failed", error=str(error))
    except history.HistoryError as error:
        return segment.result("failed", error=str(error))
    except ModelHTTPError as error:
        return _model_refused(segment, error)
    except ModelAPIError as error:
        return segment.result("failed", error=f"the model could not be reached: {type(error).__name__}")
    except UnexpectedModelBehavior as error:
        return segment.result("failed", error=f"the model misbehaved: {error.message}")
    except MeshclawError as error:  # e.g. a skill the spec lists is not installed: says what to fix
        return segment.result("failed", error=error.message)
    except Exception as error:  # a run never raises for what its agent, model or tools did
        log.exception("agent run %s failed in the runtime", request.run_id)
        return segment.result(
            "failed",
            error=f"the run failed in the agent runtime ({type(error).__name__}); see the server log",
        )
    finally:
        CURRENT.reset(current)


def _over(segment: _Segment, limit: LimitName, *, detail: str | None = None) -> RunResult:
    limits = segment.request.spec.limits
    value = {"max_steps": limits.max_steps, "max_tool_calls": limits.max_tool_calls,
             "max_tokens": limits.max_tokens, "max_cost_usd": limits.max_cost_usd,
             "max_seconds": limits.max_seconds}[limit]  # fmt: skip
    message = f"the run reached its limit {limit} = {value:g}"
    return segment.result(
        "budget_exceeded", limit=limit, error=f"{message} ({detail})" if detail else message
    )


def _model_refused(segment: _Segment, error: ModelHTTPError) -> RunResult:
    message, code = _error_body(error.body)
    if error.status_code == 429 and code == "budget_exceeded":
        return segment.result("budget_exceeded", error=f"a budget refused the model call: {message}")
    shown = f": {message}" if message else ""
    return segment.result("failed", error=f"the model call failed with HTTP {error.status_code}{shown}")


def _error_body(body: object) -> tuple[str | None, str | None]:
    """The message and code of an OpenAI- or Anthropic-shaped error body (the gateway's own errors)."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            message, code = inner.get("message"), inner.get("code") or inner.get("type")
            return (str(message)[:500] if message else None, str(code) if code else None)
    return None, None


async def _segment(
    segment: _Segment,
    registry: ToolRegistry,
    sources: Sequence[RunToolSource],
    limits: UsageLimits,
    engine: Literal["auto", "graph"],
) -> RunResult:
    request, state = segment.request, segment.state
    spec = request.spec
    async with AsyncExitStack() as stack:
        endpoint = segment.model_factory.endpoint(request)
        model = await open_model(endpoint, stack)
        specs, metas = registry_tools(request, registry, sources)
        instructions = _instructions(spec.instructions, request, sources)
        if engine == "auto" and direct.eligible(request):
            loop = direct.DirectLoop.build(
                state=state, model=model, specs=specs, metas=metas, instructions=instructions, limits=limits,
                on_response=lambda response, at, check: _model_called(segment, response, at, check_cost=check),
                before_request=lambda: _room_for_request(segment),
                retries=TOOL_RETRIES, effect_of=unoffered.effect_in(registry),
            )  # fmt: skip
            answer, history_out = await loop.run(request.input)
            answer, history_out = await _clean(segment, model, instructions, answer, history_out, metas)
            return _finish(segment, answer, history_out)
        toolsets: list[AbstractToolset[None]] = [function_toolset(specs, metas, state)] if specs else []
        for server in spec.mcp_servers:
            raw = mcp_toolset(server, request)
            try:
                await stack.enter_async_context(raw)
            except Exception as error:
                raise ToolBroke(
                    f"MCP server '{server.name}' could not be started or reached ({type(error).__name__})"
                ) from error
            toolsets.append(gated_mcp(server, raw, request, state))
        output: Any = (
            StructuredDict(dict(request.output_schema), name="answer")
            if request.output_schema is not None
            else str
        )
        agent: Agent[None, Any] = Agent(
            model,
            output_type=[output, DeferredToolRequests],
            instructions=instructions,
            toolsets=toolsets,
            retries=TOOL_RETRIES,
            name=spec.name,
        )
        messages: list[ModelMessage] | None = None
        deferred: DeferredToolResults | None = None
        prompt: str | None = request.input
        if request.resume is not None:
            envelope = history.load(request.resume.history)
            messages, prompt = envelope.messages, None
            deferred = await _decisions(envelope.pending, state)
        with capture_run_messages() as captured:
            try:
                result = await _drive(segment, agent, prompt, messages, deferred, limits,
                                      unoffered.effect_in(registry))  # fmt: skip
            except UsageLimitExceeded:
                # A token limit trips after the response that crossed it arrived (and was billed): that
                # call is still one of the run's steps.
                for message in captured[len(messages or ()) :]:
                    if isinstance(message, ModelResponse) and id(message) not in segment.recorded:
                        await _model_called(segment, message, None, check_cost=False)
                raise
        output, messages_out = await _clean(segment, model, instructions, result.output, result.all_messages(),
                                            metas)  # fmt: skip
        return _finish(segment, output, messages_out)


async def _clean(
    segment: _Segment,
    model: Model,
    instructions: str | None,
    output: Any,
    messages: list[ModelMessage],
    metas: Mapping[str, ToolMeta],
) -> tuple[Any, list[ModelMessage]]:
    """A text answer of a run that read outsiders' text, written again apart from it (`clean_answer`);
    anything else as it is."""
    if (
        not isinstance(output, str)
        or segment.request.spec.tainted_answers != "clean"
        or not segment.state.tainted
    ):
        return output, messages

    async def on_response(response: ModelResponse, requested_at: float) -> None:
        await _model_called(segment, response, requested_at, purpose=clean_answer.PURPOSE)
        # As pydantic-ai's `check_tokens` after any other response (the cost is checked by the meter).
        if _used(segment).tokens.total > segment.request.spec.limits.max_tokens:
            raise LimitReached("max_tokens", _CLEAN_OVER)

    rewritten = await clean_answer.rewrite(state=segment.state, model=model, instructions=instructions,
                                           messages=messages, metas=metas, on_response=on_response,
                                           check_limits=lambda: _room_for_clean_answer(segment))  # fmt: skip
    if rewritten is None:
        return output, messages
    segment.clean_answer = True
    return rewritten


_CLEAN_OVER = (
    "writing the answer apart from the outsiders' text the run read takes one more model request; the "
    "answer written while reading that text is not shown"
)


def _used(segment: _Segment) -> UsageTotals:
    return add_usage(segment.request.spent, segment.meter.totals(segment.state.tool_calls))


def _room_for_request(segment: _Segment) -> None:
    """Before each model request of either loop: a run whose tokens or money are used up exactly sends no
    more. pydantic-ai's `UsageLimits` refuse a request only once the tokens are over the limit, and the cost
    check trips only over it, so a run at exactly its limit would send one more request."""
    limit = no_room_left(segment.request.spec.limits, _used(segment))
    if limit is not None:
        raise LimitReached(limit, "all of it was used before the next model request")


def _room_for_clean_answer(segment: _Segment) -> None:
    limit = no_room_left(segment.request.spec.limits, _used(segment))
    if limit is not None:
        raise LimitReached(limit, _CLEAN_OVER)


async def _drive(
    segment: _Segment,
    agent: Agent[None, Any],
    prompt: str | None,
    messages: list[ModelMessage] | None,
    deferred: DeferredToolResults | None,
    limits: UsageLimits,
    effect_of: unoffered.EffectOf,
) -> AgentRunResult[Any]:
    state = segment.state
    async with agent.iter(
        prompt, message_history=messages, deferred_tool_results=deferred, usage_limits=limits
    ) as run:
        requested_at: float | None = None
        async for node in run:
            if Agent.is_model_request_node(node):
                state.check_stop()
                _room_for_request(segment)
                requested_at = time.perf_counter()
            elif Agent.is_call_tools_node(node) and requested_at is not None:
                # A resumed segment starts at the stored response's tool calls: that model call belongs
                # to the earlier segment, so only responses requested here are counted.
                await _model_called(segment, node.model_response, requested_at)
                requested_at = None
                # Before pydantic-ai answers them "unknown tool": calls of tools this step does not offer
                # are refused and recorded (`unoffered`), as the direct loop does.
                manager = run.ctx.deps.tool_manager
                for part in node.model_response.parts:
                    if isinstance(part, ToolCallPart) and manager.get_tool_def(part.tool_name) is None:
                        await unoffered.refuse(state, name=part.tool_name, raw_args=part.args,
                                               call_id=part.tool_call_id, effect=effect_of)  # fmt: skip
        result = run.result
    assert result is not None
    return result


async def _decisions(pending: list[history.PendingCall], state: SegmentState) -> DeferredToolResults:
    """pydantic-ai's results for the calls that waited: approved ones run (the gate re-checks them when
    pydantic-ai calls the tool), the others are denied, and the model reads why."""
    approvals: dict[str, bool | ToolApproved | ToolDenied] = {}
    for call in pending:
        decision = state.approvals.get(call.tool_call_id)
        if decision is not None and decision.approved:
            # Edited arguments replace the model's; pydantic-ai validates them against the tool's schema
            # (arguments that fail never reach the tool) and the gate checks them against the digest.
            approvals[call.tool_call_id] = (
                ToolApproved(override_args=dict(decision.args)) if decision.args is not None else True
            )
            continue
        reason = (decision.reason if decision else None) or "no person approved this call"
        approvals[call.tool_call_id] = ToolDenied(f"{DENIED_BY_PERSON} {reason}")
        await state.sink.tool_call(
            ToolCallStep(tool_call_id=call.tool_call_id, name=call.name, args_digest=call.args_digest,
                         effect=call.effect, decision="deny", reason=f"denied by a person: {reason}",
                         status="denied", approval_id=decision.approval_id if decision else None)
        )  # fmt: skip
    return DeferredToolResults(approvals=dict(approvals))


async def _model_called(
    segment: _Segment,
    response: ModelResponse,
    requested_at: float | None,
    *,
    check_cost: bool = True,
    purpose: str | None = None,
) -> None:
    request, meter = segment.request, segment.meter
    segment.recorded.add(id(response))
    assert request.spec.model is not None
    tokens = token_counts(response.usage)
    priced = request.spec.model.name
    cost = segment.model_factory.price_usd(priced, tokens)
    meter.tokens = add_tokens(meter.tokens, tokens)
    meter.requests += 1
    if cost is not None:
        meter.cost_usd = (meter.cost_usd or 0.0) + cost
    latency_ms = int((time.perf_counter() - requested_at) * 1000) if requested_at is not None else 0
    await segment.state.sink.model_call(
        ModelCallStep(
            model=response.model_name or priced,
            tokens=tokens,
            cost_usd=cost,
            latency_ms=latency_ms,
            purpose=purpose,
        )
    )
    spent = (request.spent.cost_usd or 0.0) + (meter.cost_usd or 0.0)
    if check_cost and spent > request.spec.limits.max_cost_usd:
        raise CostExceeded


def _finish(segment: _Segment, output: Any, messages: list[ModelMessage]) -> RunResult:
    if not isinstance(output, DeferredToolRequests):
        return segment.result("succeeded", output=output, history=history.dump(messages, []))
    pending: list[PendingApproval] = []
    stored: list[history.PendingCall] = []
    for part in output.approvals:
        meta = output.metadata.get(part.tool_call_id, {})
        effect = EffectClass(meta.get("effect", EffectClass.DESTRUCTIVE.value))
        pending.append(
            PendingApproval(tool_call_id=part.tool_call_id, tool_name=part.tool_name, args=meta.get("args", {}),
                            args_digest=meta.get("args_digest", ""), effect=effect, reason=meta.get("reason", ""))
        )  # fmt: skip
        stored.append(history.PendingCall(tool_call_id=part.tool_call_id, name=part.tool_name, effect=effect,
                                          args_digest=meta.get("args_digest", "")))  # fmt: skip
    return segment.result("waiting_approval", pending=tuple(pending), history=history.dump(messages, stored))


def _instructions(own: str, request: RunRequest, sources: Sequence[RunToolSource]) -> str | None:
    """The agent's instructions, then what its tool sources add for this run (the skills it may load)."""
    parts = [own] if own else []
    parts.extend(text for source in sources if (text := source.instructions_for(request)))
    return "\n\n".join(parts) or None
