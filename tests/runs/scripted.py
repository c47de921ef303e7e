"""A scripted agent for run tests: `MESHCLAW_RUNS_EXECUTOR=tests.runs.scripted:build`.

Its plan comes from the agent's `settings`: `tool_calls` calls of `effect_write_record` (each reported
as a model call then a tool call, like the runtime reports them), optionally `tool_sleep` seconds inside
each call (so a test can kill the server mid-run), `approval: true` to stop once for an approval,
`fail: true` to raise, and `echo: true` to answer with the run's input. The tool writes its effect to
`<data_dir>/effects/<key>` with O_EXCL, keyed by the idempotency key, and appends every attempt to
`<data_dir>/effects/attempts.log`: a key with two attempts is a call that ran twice; a key with two
records cannot exist.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo
from pydantic_ai.usage import RequestUsage

from meshclaw.agents.runtime.contract import (
    ModelCallStep,
    PendingApproval,
    RunRequest,
    RunResult,
    StepSink,
    TokenCounts,
    ToolCallStep,
    UsageTotals,
    args_digest,
)
from meshclaw.agents.runtime.testing import function_models
from meshclaw.context import AppContext
from meshclaw.runs import agent_execution
from meshclaw.runs.execution import Execution
from meshclaw.tools import idempotency
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolRegistry, ToolSpec, default_registry

TOOL = "effect_write_record"


class EffectArgs(BaseModel):
    n: int
    sleep: float = 0.0


def effect_tool(effects_dir: Path) -> ToolSpec:
    effects_dir.mkdir(parents=True, exist_ok=True)

    async def write(args: EffectArgs) -> str:
        key = idempotency.current_key() or f"direct-{args.n}"
        with open(effects_dir / "attempts.log", "a") as log:
            log.write(f"{key} {os.getpid()}\n")
        if args.sleep:
            await asyncio.sleep(args.sleep)
        try:
            fd = os.open(effects_dir / key.replace(":", "_"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return f"already done {key}"
        os.close(fd)
        return f"done {key}"

    return ToolSpec(
        name=TOOL,
        description="Writes an effect record keyed by the call's idempotency key.",
        effect=EffectClass.WRITE_INTERNAL,
        args=EffectArgs,
        function=write,  # type: ignore[arg-type]
    )


async def scripted(
    request: RunRequest, *, sink: StepSink, tools: ToolRegistry, should_stop: Callable[[], bool]
) -> RunResult:
    plan = request.spec.settings
    if plan.get("fail"):
        raise RuntimeError("scripted failure")
    if plan.get("echo"):
        return RunResult(status="succeeded", output=f"echo: {request.input}")
    tool = tools.get(TOOL)
    assert tool is not None
    calls = int(plan.get("tool_calls", 2))  # type: ignore[arg-type]
    sleep = float(plan.get("tool_sleep", 0.0))  # type: ignore[arg-type]
    if plan.get("approval") and request.resume is None:
        await sink.model_call(ModelCallStep(model="scripted", tokens=TokenCounts(input_uncached=7, output=3),
                                            cost_usd=0.0001, latency_ms=1))  # fmt: skip
        args = {"n": 0}
        return RunResult(
            status="waiting_approval",
            pending=(
                PendingApproval(
                    tool_call_id="call-0",
                    tool_name=TOOL,
                    args=args,
                    args_digest=args_digest(args),
                    effect=EffectClass.WRITE_INTERNAL,
                    reason="scripted approval",
                ),
            ),
            history=b"[]",
        )
    if request.resume is not None and not all(d.approved for d in request.resume.decisions):
        return RunResult(status="succeeded", output="denied, did nothing")
    results = []
    for n in range(calls):
        if should_stop():
            return RunResult(status="cancelled", error="stopped")
        await sink.model_call(ModelCallStep(model="scripted", tokens=TokenCounts(input_uncached=10, output=5),
                                            cost_usd=0.001, latency_ms=1))  # fmt: skip
        result = await tool.function(EffectArgs(n=n, sleep=sleep))
        results.append(str(result))
        await sink.tool_call(ToolCallStep(tool_call_id=f"call-{n}", name=TOOL, args_digest="-",
                                          effect=EffectClass.WRITE_INTERNAL, decision="allow", reason="scripted",
                                          status="ok"))  # fmt: skip
    return RunResult(status="succeeded", output="; ".join(results), usage=UsageTotals(requests=calls))


MODEL_CALLS: list[int] = []
"""One entry per request the scripted model answered (the server runs in the test's process), so a test
can tell a request the model answered from one replayed from its checkpoint."""


def _respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    """Stateless (safe for concurrent runs): call the tool until it returned twice, then answer."""
    MODEL_CALLS.append(len(messages))
    returned = sum(isinstance(part, ToolReturnPart) for message in messages for part in message.parts)
    usage = RequestUsage(input_tokens=10, output_tokens=5)
    if returned < 2:
        call = ToolCallPart(TOOL, {"n": returned}, tool_call_id=f"call-{returned}")
        return ModelResponse(parts=[call], usage=usage)
    return ModelResponse(parts=[TextPart(f"done after {returned} calls")], usage=usage)


def build_runtime(context: AppContext) -> Execution:
    """The real agent runtime (pydantic-ai) with a scripted model and the effect tool added."""
    tools = default_registry()
    tools.register(effect_tool(context.settings.data_dir / "effects"))
    return agent_execution.build(context, models=function_models(_respond), tools=tools)


def build(context: AppContext) -> Execution:
    tools = ToolRegistry()
    tools.register(effect_tool(context.settings.data_dir / "effects"))
    return Execution(execute=scripted, tools=tools)
