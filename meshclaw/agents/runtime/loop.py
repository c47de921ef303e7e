"""`execute`: one segment of a run (see `contract`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from meshclaw.agents.runtime.contract import (
    ModelFactory,
    RunRequest,
    RunResult,
    RunToolSource,
    StepSink,
    ToolGate,
)
from meshclaw.tools.registry import ToolRegistry


async def execute(
    request: RunRequest,
    *,
    sink: StepSink,
    gate: ToolGate,
    tools: ToolRegistry,
    model_factory: ModelFactory,
    run_tools: Sequence[RunToolSource] = (),
    should_stop: Callable[[], bool] | None = None,
) -> RunResult:
    """Run one segment of `request`: from its input, or from `request.resume`, until the agent answers,
    a per-run limit trips, a tool call needs approval, or `should_stop()` (the kill switch, checked before
    every model and tool call) says stop. Never raises for what the agent or its tools did: every outcome
    is a `RunResult`; only cancellation of the calling task propagates."""
    raise NotImplementedError("the agent loop lands in the next commit")
