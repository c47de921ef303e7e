"""Per-run limits: each one ends the run with status budget_exceeded naming the limit; what earlier
segments spent counts; an agent without a model fails with how to configure one."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from meshclaw.agents.runtime.contract import RunResult, TokenCounts, UsageTotals
from meshclaw.agents.runtime.default_gate import DefaultGate
from meshclaw.agents.runtime.loop import execute
from meshclaw.agents.runtime.testing import Call, RecordingSink, Say, ScriptedModels
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolRegistry, ToolSpec
from tests.agents.runtime.conftest import agent, request, run


class WaitArgs(BaseModel):
    seconds: float


async def wait(args: WaitArgs) -> str:
    await asyncio.sleep(args.seconds)
    return "waited"


def tools() -> ToolRegistry:
    registry = ToolRegistry()
    registry.register(ToolSpec(name="clock_wait_seconds", description="Wait a while.",
                               effect=EffectClass.READ_PRIVATE, args=WaitArgs, function=wait))  # fmt: skip
    return registry


def go(
    models: ScriptedModels, limits: dict[str, object], engine: str = "auto", **fields: object
) -> tuple[RunResult, RecordingSink]:
    sink = RecordingSink()
    spec = agent(tools=[{"tool": "clock_wait_seconds"}], limits=limits)
    result = run(
        execute(request(spec, **fields), sink=sink, gate=DefaultGate(), tools=tools(), model_factory=models,
                engine=engine)  # type: ignore[arg-type]
    )  # fmt: skip
    return result, sink


LOOP = [Call("clock_wait_seconds", {"seconds": 0})]
"""A model that never stops calling a tool."""


def test_max_steps() -> None:
    result, sink = go(ScriptedModels(LOOP), {"max_steps": 3})
    assert (result.status, result.limit) == ("budget_exceeded", "max_steps")
    assert result.error is not None and "max_steps = 3" in result.error
    assert len(sink.models) == 3 and result.usage.requests == 3


def test_max_tool_calls() -> None:
    result, _ = go(ScriptedModels(LOOP), {"max_tool_calls": 2})
    assert (result.status, result.limit) == ("budget_exceeded", "max_tool_calls")
    assert result.usage.tool_calls == 2


def test_max_tokens() -> None:
    result, sink = go(ScriptedModels(LOOP), {"max_tokens": 40})
    assert (result.status, result.limit) == ("budget_exceeded", "max_tokens")
    assert len(sink.models) == 3, "15 tokens a call: the third passes 40 and is the last"


@pytest.mark.parametrize("engine", ["auto", "graph"])
@pytest.mark.parametrize(
    ("limits", "limit"), [({"max_tokens": 30}, "max_tokens"), ({"max_cost_usd": 0.3}, "max_cost_usd")]
)
def test_a_limit_used_up_exactly_sends_no_more_requests(
    engine: str, limits: dict[str, object], limit: str
) -> None:
    """15 tokens and 0.15 USD a call: two calls use all 30 tokens or all 0.30 USD, so no third is sent
    (pydantic-ai's own checks refuse only once over the limit; it was sent, on both loops)."""
    result, sink = go(ScriptedModels(LOOP, usd_per_token=0.01), limits, engine=engine)
    assert (result.status, result.limit) == ("budget_exceeded", limit)
    assert len(sink.models) == 2 and result.usage.requests == 2
    assert result.error is not None and "used before the next model request" in result.error


def test_max_cost_is_checked_after_each_response() -> None:
    result, sink = go(ScriptedModels(LOOP, usd_per_token=0.01), {"max_cost_usd": 0.2})
    assert (result.status, result.limit) == ("budget_exceeded", "max_cost_usd")
    assert (
        len(sink.models) == 2
        and result.usage.cost_usd is not None
        and abs(result.usage.cost_usd - 0.3) < 1e-9
    )


def test_max_seconds() -> None:
    result, _ = go(ScriptedModels([Call("clock_wait_seconds", {"seconds": 5}), Say("x")]), {"max_seconds": 1})
    assert (result.status, result.limit) == ("budget_exceeded", "max_seconds")


def test_what_earlier_segments_spent_counts() -> None:
    models = ScriptedModels([Say("hi")])
    spent = UsageTotals(tokens=TokenCounts(output=10), requests=5)
    result, sink = go(models, {"max_steps": 5}, spent=spent)
    assert (result.status, result.limit) == ("budget_exceeded", "max_steps")
    assert models.requests == [] and sink.models == []


def test_an_agent_without_a_model_fails_saying_how_to_configure_one() -> None:
    spec = agent(model=None)
    result = run(execute(request(spec), sink=RecordingSink(), gate=DefaultGate(), tools=tools(),
                         model_factory=ScriptedModels([Say("x")])))  # fmt: skip
    assert result.status == "failed"
    assert result.error is not None and "meshclaw providers add NAME --kind" in result.error
