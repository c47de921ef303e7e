"""The direct loop: one segment of a simple agent, driven without pydantic-ai's agent graph.

Why: pydantic-ai's graph (nodes, capability hooks, task groups, history re-scans, context copies) costs
about 7 ms of CPU per step on this machine class, more than issue 4's bar of 5 ms for the whole platform
overhead per step (bench/agent_step.py; bench/RESULTS.md). This loop does the same step, model request
then tool calls, in well under 1 ms of its own.

Which segments: those `eligible` says are simple, i.e. a fresh segment (not a resume after approvals) of
an agent with registry tools only (no MCP server) and a text answer (no output schema). Everything else
runs on `Agent.iter` (`loop`); both paths share the model, the gate (`gated.gate_and_call`), the sink, the
meter and the limit checks, and the tests run the same scripts through both (tests/agents/runtime/
test_direct_loop.py).

What it keeps of pydantic-ai's loop, with pydantic-ai's own types and helpers so the history is the same
format (a segment that stops for approval resumes on `Agent.iter` from it):

- the model: `Model.prepare_messages` then `Model.request`, with the request parameters an agent sends
  (tool definitions, instructions, text output allowed);
- limits: `UsageLimits.check_before_request` and the runtime's own `before_request` (a limit used up
  exactly) before each request, `check_tokens` after each response, `check_before_tool_call` for a
  response's calls before any runs;
- tool calls: arguments validated against the tool's schema by pydantic-ai's own validator; a call that
  fails validation, names an unknown tool or raises `ModelRetry` goes back to the model as a retried tool
  return, up to `retries` consecutive failures per tool, then the run fails as pydantic-ai fails it; the
  calls of one response run concurrently, their returns go back in call order;
- output: text parts joined; a response with no usable output is retried with pydantic-ai's feedback;
  calls that need approval end the segment with `DeferredToolRequests`, after the response's other calls ran.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_ai import DeferredToolRequests, Tool, UsageLimits
from pydantic_ai._output import build_retried_tool_return
from pydantic_ai.exceptions import (
    ApprovalRequired,
    ContentFilterError,
    ModelRetry,
    OutputTokenLimitExceeded,
    UnexpectedModelBehavior,
)
from pydantic_ai.messages import (
    AgentInstructionSource,
    CompactionPart,
    InstructionId,
    InstructionPart,
    ModelMessage,
    ModelMessagesTypeAdapter,
    ModelRequest,
    ModelRequestPart,
    ModelResponse,
    NativeToolCallPart,
    RetryFeedbackPart,
    RetryInfo,
    SpeechPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.usage import RunUsage
from pydantic_core import SchemaValidator

from meshclaw.agents.runtime import unoffered
from meshclaw.agents.runtime.contract import RunRequest
from meshclaw.agents.runtime.gated import SegmentState, ToolMeta, gate_and_call
from meshclaw.tools.registry import ToolSpec

TOOLSET_ID = "meshclaw-tools"
"""The id pydantic-ai's path gives the registry toolset; tool definitions carry it."""

OnResponse = Callable[[ModelResponse, float, bool], Awaitable[None]]
"""Records a model call as a step (response, when it was requested, whether to check the cost limit)."""


def eligible(request: RunRequest) -> bool:
    """Whether this segment runs on the direct loop (see the module docstring)."""
    return request.resume is None and request.output_schema is None and not request.spec.mcp_servers


@dataclass(frozen=True, slots=True)
class _Tool:
    spec: ToolSpec
    meta: ToolMeta
    definition: ToolDefinition
    validator: SchemaValidator


@lru_cache(maxsize=4096)
def _compiled(name: str, description: str, args: type[BaseModel]) -> tuple[ToolDefinition, SchemaValidator]:
    """The definition and argument validator pydantic-ai builds for a registry tool (see
    `toolsets._tool`), built once per tool rather than per segment."""

    async def signature_only(args: Any) -> Any:
        raise AssertionError("never called: Tool reads its signature, the direct loop runs spec.function")

    signature_only.__annotations__ = {"args": args, "return": Any}
    tool = Tool(signature_only, name=name, description=description, takes_ctx=False)
    return replace(tool.tool_def, toolset_id=TOOLSET_ID), tool.function_schema.validator


def _tools(specs: Sequence[ToolSpec], metas: Mapping[str, ToolMeta]) -> dict[str, _Tool]:
    tools: dict[str, _Tool] = {}
    for spec in specs:
        definition, validator = _compiled(spec.name, spec.description, spec.args)
        tools[spec.name] = _Tool(spec=spec, meta=metas[spec.name], definition=definition, validator=validator)
    return tools


@dataclass(kw_only=True)
class DirectLoop:
    state: SegmentState
    model: Model
    tools: dict[str, _Tool]
    instructions: str | None
    limits: UsageLimits
    on_response: OnResponse
    before_request: Callable[[], None]
    """Raises to stop the segment before its next model request (a limit used up exactly)."""
    retries: int
    effect_of: unoffered.EffectOf
    """The effect class of a tool name the segment does not offer (for its audit record)."""
    usage: RunUsage = field(default_factory=RunUsage)
    tool_retries: dict[str, int] = field(default_factory=dict)
    """Consecutive failed calls per tool name, as pydantic-ai's tool manager counts them."""
    output_retries: int = 0

    @classmethod
    def build(
        cls,
        *,
        state: SegmentState,
        model: Model,
        specs: Sequence[ToolSpec],
        metas: Mapping[str, ToolMeta],
        instructions: str | None,
        limits: UsageLimits,
        on_response: OnResponse,
        before_request: Callable[[], None],
        retries: int,
        effect_of: unoffered.EffectOf,
    ) -> DirectLoop:
        return cls(state=state, model=model, tools=_tools(specs, metas), instructions=instructions,
                   limits=limits, on_response=on_response, before_request=before_request, retries=retries,
                   effect_of=effect_of)  # fmt: skip

    def _parameters(self) -> ModelRequestParameters:
        parts = (
            [InstructionPart(content=self.instructions, id=InstructionId(AgentInstructionSource()))]
            if self.instructions
            else None
        )
        return ModelRequestParameters(
            function_tools=[tool.definition for tool in self.tools.values()],
            tool_visibility={name: "visible" for name in self.tools},
            instruction_parts=parts,
        )

    async def run(self, prompt: str) -> tuple[str | DeferredToolRequests, list[ModelMessage]]:
        """The segment from its prompt to its answer (or the calls that wait for approval): the output and
        the whole history, as `AgentRunResult.output` and `.all_messages()` would give them."""
        state, model, limits = self.state, self.model, self.limits
        parameters = self._parameters()
        messages: list[ModelMessage] = [
            ModelRequest(parts=[UserPromptPart(prompt)], instructions=self.instructions)
        ]
        while True:
            state.check_stop()
            self.before_request()  # first, as on the graph, where it runs before pydantic-ai's node does
            limits.check_before_request(self.usage)
            requested_at = time.perf_counter()
            response = await model.request(model.prepare_messages(messages, parameters), None, parameters)
            messages.append(response)
            self.usage.requests += 1
            self.usage.incr(response.usage)
            try:
                limits.check_tokens(self.usage)
            except Exception:
                # The response that crossed a token limit was billed: it is still one of the run's steps.
                await self.on_response(response, requested_at, False)
                raise
            await self.on_response(response, requested_at, True)
            calls = [part for part in response.parts if isinstance(part, ToolCallPart)]
            if calls:
                returns, waiting = await self._calls(calls)
                if waiting.approvals:
                    # As pydantic-ai leaves it: the returns of the calls that ran, without instructions.
                    messages.append(ModelRequest(parts=returns))
                    return waiting, messages
                messages.append(ModelRequest(parts=returns, instructions=self.instructions))
                continue
            text = _text(response)
            if text:
                return text, messages
            messages.append(ModelRequest(parts=[self._no_output(response)], instructions=self.instructions))

    def _no_output(self, response: ModelResponse) -> RetryFeedbackPart:
        """pydantic-ai's answer to a response with nothing usable (no text, no tool call)."""
        if response.finish_reason == "length":
            raise OutputTokenLimitExceeded(
                "Model token limit (provider default) exceeded before any response was generated. Increase "
                "the `max_tokens` model setting, or simplify the prompt to result in a shorter response "
                "that will fit within the limit."
            )
        if response.finish_reason == "content_filter":
            from pydantic_ai._content_filter import content_filter_message

            body = ModelMessagesTypeAdapter.dump_json([response]).decode()
            raise ContentFilterError(content_filter_message(response.provider_details), body=body)
        self.output_retries += 1
        if self.output_retries > self.retries:
            raise UnexpectedModelBehavior(f"Exceeded maximum output retries ({self.retries})")
        alternatives = ["return text", "call a tool"] if self.tools else ["return text"]
        return RetryFeedbackPart(
            content=f"Please {' or '.join(alternatives)}.",
            retry=RetryInfo(cause="no_output", attempt=self.output_retries, max_retries=self.retries),
        )

    async def _calls(self, calls: list[ToolCallPart]) -> tuple[list[ModelRequestPart], DeferredToolRequests]:
        # Calls of tools the segment does not offer are refused and recorded first, in call order, as the
        # graph path does (`loop._drive`); the model still reads "unknown tool" for each (`_call`).
        for call in calls:
            if call.tool_name not in self.tools:
                await unoffered.refuse(self.state, name=call.tool_name, raw_args=call.args,
                                       call_id=call.tool_call_id, effect=self.effect_of)  # fmt: skip
        if self.limits.tool_calls_limit is not None:
            self.limits.check_before_tool_call(RunUsage(tool_calls=self.usage.tool_calls + len(calls)))
        step = _Step()
        if len(calls) == 1:
            results = [await self._call(calls[0], step)]
        else:
            results = await _concurrently([self._call(call, step) for call in calls])
        # pydantic-ai's carry-over between steps: a tool that succeeded starts afresh, one that failed
        # has one more failure on its count.
        previous = self.tool_retries
        self.tool_retries = {name: n for name, n in previous.items() if name not in step.succeeded}
        self.tool_retries.update({name: previous.get(name, 0) + 1 for name in step.failed})
        returns: list[ModelRequestPart] = [part for part in results if part is not None]
        waiting = DeferredToolRequests(
            approvals=[call for call in calls if call.tool_call_id in step.waiting],
            metadata=dict(step.waiting),
        )
        return returns, waiting

    async def _call(self, call: ToolCallPart, step: _Step) -> ToolReturnPart | None:
        name = call.tool_name
        tool = self.tools.get(name)
        if tool is None:
            available = ", ".join(f"{known!r}" for known in sorted(self.tools))
            message = f"Available tools: {available}" if available else "No tools available."
            return self._retry(
                call, ModelRetry(f"Unknown tool name: {name!r}. {message}"), step, "unknown_tool"
            )
        try:
            if isinstance(call.args, str):
                tool_args = tool.validator.validate_json(call.args or "{}")
            else:
                tool_args = tool.validator.validate_python(call.args or {})
        except ValidationError as error:
            return self._retry(call, error, step, None)
        self.state.check_stop()
        spec = tool.spec

        def invoke() -> Awaitable[Any]:
            return spec.function(tool_args["args"])

        try:
            result = await gate_and_call(self.state, name=name, tool_args=tool_args,
                                         call_id=call.tool_call_id, approved=False, meta=tool.meta,
                                         invoke=invoke)  # fmt: skip
        except ApprovalRequired as deferral:
            step.waiting[call.tool_call_id] = deferral.metadata or {}
            return None
        except ModelRetry as error:
            return self._retry(call, error, step, None)
        self.usage.tool_calls += 1
        step.succeeded.add(name)
        return ToolReturnPart(tool_name=name, content=result, tool_call_id=call.tool_call_id)

    def _retry(
        self, call: ToolCallPart, error: ValidationError | ModelRetry, step: _Step, cause: Any
    ) -> ToolReturnPart:
        """The call goes back to the model to be retried, or the run fails once the tool has used its
        retries (pydantic-ai's `ToolManager._check_max_retries`)."""
        name = call.tool_name
        failures = self.tool_retries.get(name, 0)
        if failures >= self.retries:
            raise UnexpectedModelBehavior(
                f"Tool {name!r} exceeded max retries count of {self.retries}. Consider raising the retry "
                "limit, or see the docs on tool retries: "
                "https://pydantic.dev/docs/ai/tools-toolsets/tools-advanced/#tool-retries"
            ) from error
        step.failed.add(name)
        part = build_retried_tool_return(error, tool_name=name, tool_call_id=call.tool_call_id, cause=cause)
        if part.retry is not None:
            part.retry = replace(part.retry, attempt=failures + 1, max_retries=self.retries)
        return part


@dataclass
class _Step:
    """What one response's tool calls did, for the retry carry-over and the approvals."""

    succeeded: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    waiting: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The metadata of the calls that wait for approval, by call id."""


def _text(response: ModelResponse) -> str:
    """The response's text output as pydantic-ai reads it (`CallToolsNode`, for a response with no
    tool call): text parts joined, text before a native tool call dropped unless nothing follows it."""
    text = before_native = compaction = ""
    for part in response.parts:
        if isinstance(part, TextPart | SpeechPart):
            text += part.content
        elif isinstance(part, NativeToolCallPart):
            before_native = text or before_native
            text = ""
        elif isinstance(part, CompactionPart) and part.content:
            compaction += part.content
        elif isinstance(part, ThinkingPart):
            continue
    return text or before_native or compaction


async def _concurrently(calls: list[Awaitable[ToolReturnPart | None]]) -> list[ToolReturnPart | None]:
    """Run the calls of one response at once, as pydantic-ai does; the first failure (in call order)
    cancels the others and is raised."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        pending = [task for task in tasks if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    return [task.result() for task in tasks]
