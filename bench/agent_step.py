"""Platform overhead per agent step: everything but the model's own latency.

A scripted model that answers at once (`runtime.testing.ScriptedModels`, answering on the event loop)
asks for one tool call per response, `--steps` times, then answers. A *step* is one model request plus
the tool call it asked for: the agent loop (the direct loop, `runtime.direct`, for a simple segment like
this one), the model's message preparation, the gate (`DefaultGate`), argument validation, the step
sink, usage and cost accounting and the limit checks. Per-step time is the interval between consecutive
model-call callbacks, so it leaves out each segment's setup (building the model and its tools), which is
printed apart. The tool itself does nothing (read_private), so its cost is near zero.

For comparison, in the same process: the same runs with every segment on pydantic-ai's agent graph
(`engine="graph"`, what simple segments ran on before the direct loop), and the same script on bare
pydantic-ai (a plain tool, no gate, sink or limits). The CPU time per step is the steadier figure on a
shared machine; load inflates the wall times.

Bar (issue 4): median <= 5 ms per step.

    .venv/bin/python -m bench.agent_step [--runs 50] [--steps 20]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel

from meshclaw.agents.runtime.contract import ModelCallStep, RunRequest, ToolCallStep
from meshclaw.agents.runtime.default_gate import DefaultGate
from meshclaw.agents.runtime.loop import execute
from meshclaw.agents.runtime.testing import Call, Say, ScriptedModels
from meshclaw.agents.spec import AgentSpec
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolRegistry, ToolSpec


class LookupArgs(BaseModel):
    key: str


async def lookup(args: LookupArgs) -> str:
    return f"value of {args.key}"


@dataclass
class TimingSink:
    model_at: list[float] = field(default_factory=list)
    cpu_at: list[float] = field(default_factory=list)
    tools: int = 0

    async def model_call(self, step: ModelCallStep) -> None:
        self.model_at.append(time.perf_counter())
        self.cpu_at.append(time.process_time())

    async def tool_call(self, step: ToolCallStep) -> None:
        self.tools += 1


def _registry() -> ToolRegistry:
    registry = ToolRegistry()
    registry.register(ToolSpec(name="kv_get_value", description="Look a value up.", effect=EffectClass.READ_PRIVATE,
                               args=LookupArgs, function=lookup))  # fmt: skip
    return registry


async def _one(
    steps: int, registry: ToolRegistry, gate: DefaultGate, engine: Literal["auto", "graph"] = "auto"
) -> tuple[list[float], list[float], float, float]:
    spec = AgentSpec.model_validate(
        {"name": "bench", "instructions": "Look things up.", "model": {"name": "scripted"},
         "tools": [{"tool": "kv_get_value"}], "limits": {"max_steps": steps + 1, "max_tool_calls": steps}}
    )  # fmt: skip
    request = RunRequest(
        run_id="bench", agent_id=1, agent_version_id=1, owner_user_id=1, spec=spec, input="go"
    )
    models = ScriptedModels([Call("kv_get_value", {"key": f"k{n}"}) for n in range(steps)] + [Say("done")])
    sink = TimingSink()
    started = time.perf_counter()
    result = await execute(request, sink=sink, gate=gate, tools=registry, model_factory=models, engine=engine)
    total = time.perf_counter() - started
    assert result.status == "succeeded" and sink.tools == steps, (result.status, result.error)
    per_step = [b - a for a, b in itertools.pairwise(sink.model_at)]
    cpu = [b - a for a, b in itertools.pairwise(sink.cpu_at)]
    return per_step, cpu, sink.model_at[0] - started, total


async def _bare(runs: int, steps: int) -> tuple[float, float]:
    """The same loop on pydantic-ai alone: what the library costs per step, for comparison."""
    from pydantic_ai import Agent, UsageLimits
    from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    marks: list[float] = []
    cpu_marks: list[float] = []

    async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        marks.append(time.perf_counter())
        cpu_marks.append(time.process_time())
        turn = sum(isinstance(m, ModelResponse) for m in messages)
        if turn < steps:
            return ModelResponse(parts=[ToolCallPart("kv_get_value", {"key": f"k{turn}"})])
        return ModelResponse(parts=[TextPart("done")])

    agent = Agent(FunctionModel(respond), instructions="Look things up.")

    @agent.tool_plain
    async def kv_get_value(key: str) -> str:
        return f"value of {key}"

    deltas: list[float] = []
    cpu: list[float] = []
    for _ in range(runs + 1):
        marks.clear()
        cpu_marks.clear()
        await agent.run("go", usage_limits=UsageLimits(request_limit=None))
        deltas.extend(b - a for a, b in itertools.pairwise(marks))
        cpu.extend(b - a for a, b in itertools.pairwise(cpu_marks))
    return statistics.median(deltas), statistics.median(cpu)


async def _graph(runs: int, steps: int, registry: ToolRegistry, gate: DefaultGate) -> tuple[float, float]:
    """MeshClaw's runtime with every segment on pydantic-ai's agent graph (`engine="graph"`), which is
    what simple segments ran on before the direct loop."""
    await _one(steps, registry, gate, "graph")
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        steps_s, cpu_s, _, _ = await _one(steps, registry, gate, "graph")
        wall.extend(steps_s)
        cpu.extend(cpu_s)
    return statistics.median(wall), statistics.median(cpu)


async def main(runs: int, steps: int) -> None:
    registry, gate = _registry(), DefaultGate()
    await _one(steps, registry, gate)  # warm-up: imports, schema building, caches
    per_step: list[float] = []
    cpu: list[float] = []
    setups: list[float] = []
    totals: list[float] = []
    for _ in range(runs):
        steps_s, cpu_s, setup, total = await _one(steps, registry, gate)
        per_step.extend(steps_s)
        cpu.extend(cpu_s)
        setups.append(setup)
        totals.append(total)
    per_step.sort()
    p95 = per_step[int(len(per_step) * 0.95) - 1]
    print(
        f"{runs} runs x {steps} steps (one model request + one tool call each), scripted zero-latency model"
    )
    print(f"per step: median {statistics.median(per_step) * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms, "
          f"max {per_step[-1] * 1000:.2f} ms ({len(per_step)} steps)")  # fmt: skip
    print(f"per step, CPU time of this process: median {statistics.median(cpu) * 1000:.2f} ms")
    graph_wall, graph_cpu = await _graph(runs, steps, registry, gate)
    print(f"the same on pydantic-ai's agent graph (engine='graph'): median {graph_wall * 1000:.2f} ms, "
          f"CPU {graph_cpu * 1000:.2f} ms per step")  # fmt: skip
    bare_wall, bare_cpu = await _bare(runs, steps)
    print(f"bare pydantic-ai (same script, plain tool, no gate/sink/limits): median {bare_wall * 1000:.2f} ms, "
          f"CPU {bare_cpu * 1000:.2f} ms per step")  # fmt: skip
    print(f"segment setup to the first model response: median {statistics.median(setups) * 1000:.2f} ms")
    print(f"whole run: median {statistics.median(totals) * 1000:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--steps", type=int, default=20)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.runs, arguments.steps))
