"""Test doubles shipped next to the real thing: a scripted model and a recording sink, so the runs layer,
playbooks and tests can run agents deterministically without knowing pydantic-ai.

    models = ScriptedModels([Call("time_get_now", {}), Say("It is late.")])
    result = await execute(request, sink=RecordingSink(), gate=DefaultGate(), tools=registry,
                           model_factory=models)

A script is a list of turns; each model request takes the next one (the last one repeats when the script
runs out). `Call` asks for tool calls, `Say` answers, `Answer` gives a structured answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.usage import RequestUsage

from meshclaw.agents.runtime.contract import (
    ModelCallStep,
    RunRequest,
    ScriptedEndpoint,
    TokenCounts,
    ToolCallStep,
)


@dataclass(frozen=True, kw_only=True)
class Usage:
    input_tokens: int = 10
    output_tokens: int = 5


@dataclass(frozen=True)
class Say:
    text: str
    usage: Usage = Usage()


@dataclass(frozen=True)
class Answer:
    """A structured answer (for a request with an output schema)."""

    value: dict[str, Any]
    usage: Usage = Usage()


@dataclass(frozen=True)
class Call:
    """One or more tool calls in one model response; ids are `call-<turn>-<n>` unless given."""

    tool: str
    args: dict[str, Any] = field(default_factory=dict)
    more: tuple[tuple[str, dict[str, Any]], ...] = ()
    tool_call_id: str | None = None
    usage: Usage = Usage()


Turn = Say | Answer | Call


@dataclass
class ScriptedModels:
    """A `ModelFactory` whose model plays a script. `usd_per_token` prices every call (for cost limits)."""

    script: Sequence[Turn]
    usd_per_token: float | None = None
    requests: list[list[ModelMessage]] = field(default_factory=list)
    """What the model was sent, per request."""

    def endpoint(self, request: RunRequest) -> ScriptedEndpoint:
        return ScriptedEndpoint(model=FunctionModel(self._answer, model_name="scripted"), name="scripted")

    async def _answer(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        # Async, so the answer comes on the event loop: FunctionModel runs a plain function in a worker
        # thread, a hop that is the scripted model's own latency, not the platform's.
        return self._respond(messages, info)

    def price_usd(self, model: str, tokens: TokenCounts) -> float | None:
        return None if self.usd_per_token is None else tokens.total * self.usd_per_token

    def _respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        turn_number = len(self.requests)
        self.requests.append(list(messages))
        turn = self.script[min(turn_number, len(self.script) - 1)]
        usage = RequestUsage(input_tokens=turn.usage.input_tokens, output_tokens=turn.usage.output_tokens)
        if isinstance(turn, Say):
            return ModelResponse(parts=[TextPart(turn.text)], usage=usage)
        if isinstance(turn, Answer):
            [output_tool] = info.output_tools
            return ModelResponse(parts=[ToolCallPart(output_tool.name, turn.value)], usage=usage)
        calls = [(turn.tool, turn.args), *turn.more]
        parts = [
            ToolCallPart(name, args, tool_call_id=(turn.tool_call_id if n == 0 and turn.tool_call_id else
                                                   f"call-{turn_number}-{n}"))
            for n, (name, args) in enumerate(calls)
        ]  # fmt: skip
        return ModelResponse(parts=list(parts), usage=usage)


def function_models(
    respond: Callable[[list[ModelMessage], AgentInfo], ModelResponse],
) -> ScriptedModelFactory:
    """A factory around a pydantic-ai `FunctionModel` function, for tests that need full control."""
    return ScriptedModelFactory(respond)


@dataclass
class ScriptedModelFactory:
    respond: Callable[[list[ModelMessage], AgentInfo], ModelResponse]
    usd_per_token: float | None = None

    def endpoint(self, request: RunRequest) -> ScriptedEndpoint:
        return ScriptedEndpoint(model=FunctionModel(self.respond, model_name="scripted"))

    def price_usd(self, model: str, tokens: TokenCounts) -> float | None:
        return None if self.usd_per_token is None else tokens.total * self.usd_per_token


@dataclass
class RecordingSink:
    """A `StepSink` that keeps every step in memory."""

    models: list[ModelCallStep] = field(default_factory=list)
    tools: list[ToolCallStep] = field(default_factory=list)

    async def model_call(self, step: ModelCallStep) -> None:
        self.models.append(step)

    async def tool_call(self, step: ToolCallStep) -> None:
        self.tools.append(step)
