"""Platform overhead per agent step in a durable run: everything but the model's own latency, end to end.

`bench.agent_step` times the agent loop with an in-memory sink. A real run also pays, per step, the
checkpoint of the model request and of the tool call (each an insert into `run_checkpoints`, committed
before the step returns; DBOS steps before 3efc184) and the run's own records (run_steps rows and the
audit record of each tool call, batched by the workflow's sink). This bench runs whole runs through the
real engine: the app's lifespan, DBOS, the runs queue, the workflow, the agent runtime (the direct loop),
the policy gate with its database policy, on SQLite files (and PostgreSQL 15 with `--postgres`, durable,
fsync on).

The model answers at once (a pydantic-ai `FunctionModel` answering on the event loop): it asks for one
call of a registry tool that does nothing, `--steps` times, then answers. A step is one model request
plus that tool call; its time is the interval between consecutive model requests (wall, and CPU time of
the whole process, DBOS's threads included). Also printed: the amortized time per step (first request to
the run's final status, divided by the steps, so the batched writes, the run's last flush and its finish
are in it) and the in-memory figure of `bench.agent_step` measured in the same process.

    .venv/bin/python -m bench.durable_step [--runs 10] [--steps 20] [--postgres] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import itertools
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolRegistry, ToolSpec

TOOL = "kv_get_value"


class LookupArgs(BaseModel):
    key: str


async def _lookup(args: LookupArgs) -> str:
    return f"value of {args.key}"


@dataclass
class _Marks:
    """When the model was asked, per run: wall and process CPU clocks."""

    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    def mark(self, prompt: str) -> None:
        self.wall.setdefault(prompt, []).append(time.perf_counter())
        self.cpu.setdefault(prompt, []).append(time.process_time())


MARKS = _Marks()
"""The server runs in this process; the model writes its marks here (keyed by the run's prompt)."""


def _prompt(messages: list[Any]) -> str:
    from pydantic_ai.messages import ModelRequest, UserPromptPart

    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    return part.content
    return ""


async def _respond(messages: list[Any], info: Any) -> Any:
    """Stateless: the prompt says how many steps (`<id> <steps>`); call the tool until it returned that
    often, then answer."""
    from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from pydantic_ai.usage import RequestUsage

    prompt = _prompt(messages)
    MARKS.mark(prompt)
    steps = int(prompt.split()[-1])
    returned = sum(isinstance(part, ToolReturnPart) for message in messages for part in message.parts)
    usage = RequestUsage(input_tokens=10, output_tokens=5)
    if returned < steps:
        return ModelResponse(parts=[ToolCallPart(TOOL, {"key": f"k{returned}"})], usage=usage)
    return ModelResponse(parts=[TextPart("done")], usage=usage)


def build(context: Any) -> Any:
    """The runs executor (`runs_executor = "bench.durable_step:build"`): the real agent runtime with the
    instant model and the one tool."""
    from meshclaw.agents.runtime.testing import function_models
    from meshclaw.runs import agent_execution

    tools = ToolRegistry()
    tools.register(ToolSpec(name=TOOL, description="Look a value up.", effect=EffectClass.READ_PRIVATE,
                            args=LookupArgs, function=_lookup))  # fmt: skip
    return agent_execution.build(context, models=function_models(_respond), tools=tools)  # type: ignore[arg-type]


def _agent(context: Any, steps: int) -> int:
    from meshclaw.agents import store as agents_store
    from meshclaw.agents.spec import AgentSpec
    from meshclaw.identity import store as identity
    from meshclaw.identity.principal import Role

    now = context.clock.now()
    with context.db.session() as session:
        org, _ = identity.ensure_org(session, name="Bench", now=now)
        owner = identity.create_user(session, org_id=org.id, email="bench@example.org", role=Role.MEMBER,
                                     team_id=None, manager_id=None, now=now)  # fmt: skip
        spec = AgentSpec.model_validate(
            {"name": "bench", "instructions": "Look things up.", "model": {"name": "scripted"},
             "tools": [{"tool": TOOL}], "limits": {"max_steps": steps + 1, "max_tool_calls": steps},
             "daily": {"max_runs": 100_000}, "allow_overlap": True}
        )  # fmt: skip
        applied = agents_store.save_spec(session, org_id=org.id, owner_user_id=owner.id, spec=spec,
                                         created_by_user_id=None, now=now)  # fmt: skip
        return int(applied.agent.id)


def _wait(context: Any, run_id: str, timeout: float = 300) -> tuple[str, float]:
    """The run's final status and when it ended (its `ended_at`, on the `perf_counter` clock): polled
    slowly, so the polling costs the run next to nothing."""
    from meshclaw.db.models import Run
    from meshclaw.runs import store

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with context.db.session() as session:
            run = session.get(Run, run_id)
            if run is not None and run.status in store.FINAL and run.ended_at is not None:
                ended_at = run.ended_at if run.ended_at.tzinfo else run.ended_at.replace(tzinfo=UTC)
                return run.status, time.perf_counter() - (time.time() - ended_at.timestamp())
        time.sleep(0.05)
    raise RuntimeError(f"run {run_id} did not end within {timeout} s")


@dataclass
class Figures:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    amortized: list[float] = field(default_factory=list)
    """Per run: (final status seen - first model request) / steps."""
    total: list[float] = field(default_factory=list)
    """Per run: start_run to final status seen."""


def _profile_report(top: int = 50) -> str:
    """yappi's CPU profile of every thread (cProfile sees only the thread that enables it, and a run's work
    is spread over DBOS's event loop thread and the worker threads of the database writes)."""
    import yappi  # type: ignore[import-not-found]  # optional (pip install yappi), only for --profile

    stats = list(yappi.get_func_stats())
    lines = []
    for key in ("ttot", "tsub"):
        lines.append(f"--- by {key} (CPU s; {'with callees' if key == 'ttot' else 'own'})")
        for stat in sorted(stats, key=lambda s: getattr(s, key), reverse=True)[:top]:
            where = f"{stat.module.rsplit('site-packages/', 1)[-1]}:{stat.lineno} {stat.name}"
            lines.append(f"{stat.ttot:8.3f} {stat.tsub:8.3f} {stat.ncall:8d}  {where}")
    return "\n".join(lines) + "\n"


@contextmanager
def _database(postgres: bool) -> Iterator[str | None]:
    if not postgres:
        yield None
        return
    from tests.postgres import private_postgres

    with private_postgres(durable=True) as server:
        yield server.url(server.create_database("bench"))


def durable(runs: int, steps: int, *, postgres: bool, profile: str | None) -> Figures:
    from fastapi.testclient import TestClient

    from meshclaw.config import load_settings
    from meshclaw.context import AppContext
    from meshclaw.db.migrate import upgrade
    from meshclaw.runs.engine import RunEngine
    from meshclaw.server.app import create_app

    # The executor is loaded by its module name, so its marks are in `bench.durable_step`, which is not
    # this module when it runs as `__main__`.
    marks: _Marks = importlib.import_module("bench.durable_step").MARKS
    figures = Figures()
    with _database(postgres) as url, tempfile.TemporaryDirectory(prefix="meshclaw-bench-durable-") as tmp:
        extra: dict[str, Any] = {"database_url": url} if url else {}
        settings = load_settings(data_dir=Path(tmp), runs_executor="bench.durable_step:build", **extra)
        context = AppContext.from_settings(settings)
        upgrade(context.db)
        agent_id = _agent(context, steps)
        app = create_app(context)
        with TestClient(app):
            engine = app.state.runs
            assert isinstance(engine, RunEngine) and engine.live
            for n in range(runs + 1):  # the first run warms up (imports, caches)
                if n == 1 and profile:
                    import yappi

                    yappi.set_clock_type("cpu")
                    yappi.start()
                prompt = f"run{n} {steps}"
                started = time.perf_counter()
                run_id = engine.start_run(agent_id, trigger_kind="manual", input_text=prompt)
                assert run_id is not None
                status, ended = _wait(context, run_id)
                assert status == "succeeded", status
                wall, cpu = marks.wall[prompt], marks.cpu[prompt]
                assert len(wall) == steps + 1, len(wall)
                if n == 0:
                    continue
                figures.wall.extend(b - a for a, b in itertools.pairwise(wall))
                figures.cpu.extend(b - a for a, b in itertools.pairwise(cpu))
                figures.amortized.append((ended - wall[0]) / steps)
                figures.total.append(ended - started)
            if profile:
                yappi.stop()
                Path(profile).write_text(_profile_report())
    return figures


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main(runs: int, steps: int, postgres: bool, profile: str | None) -> None:
    from bench import agent_step
    from meshclaw.agents.runtime.default_gate import DefaultGate

    backend = "PostgreSQL 15 (fsync on)" if postgres else "SQLite"
    figures = durable(runs, steps, postgres=postgres, profile=profile)
    ordered = sorted(figures.wall)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    print(
        f"durable runs on {backend}: {runs} runs x {steps} steps (model request + tool call), instant model"
    )
    print(f"  per step, wall: median {_ms(statistics.median(figures.wall))}, p95 {_ms(p95)}, "
          f"max {_ms(ordered[-1])} ({len(ordered)} steps)")  # fmt: skip
    print(f"  per step, CPU of the process: median {_ms(statistics.median(figures.cpu))}, "
          f"mean {_ms(statistics.mean(figures.cpu))}")  # fmt: skip
    print(f"  per step, amortized (first request to final status / steps): median "
          f"{_ms(statistics.median(figures.amortized))}")  # fmt: skip
    print(f"  whole run (start_run to final status): median {_ms(statistics.median(figures.total))}")
    registry, gate = agent_step._registry(), DefaultGate()

    async def in_memory() -> tuple[list[float], list[float]]:
        await agent_step._one(steps, registry, gate)
        wall: list[float] = []
        cpu: list[float] = []
        for _ in range(runs):
            steps_s, cpu_s, _, _ = await agent_step._one(steps, registry, gate)
            wall.extend(steps_s)
            cpu.extend(cpu_s)
        return wall, cpu

    wall, cpu = asyncio.run(in_memory())
    print(f"in memory (bench.agent_step, same process): median {_ms(statistics.median(wall))}, "
          f"CPU {_ms(statistics.median(cpu))} per step")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--postgres", action="store_true", help="a private PostgreSQL 15, fsync on")
    parser.add_argument("--profile", help="write a cProfile of the measured runs to this file")
    arguments = parser.parse_args()
    main(arguments.runs, arguments.steps, arguments.postgres, arguments.profile)
