"""Runs benchmark: many concurrent durable runs in one process, with a scripted agent (no model latency).

    .venv/bin/python bench/runs_concurrency.py --runs 500 --steps 3 --agents 1000 --hold 100

Measures, on the real engine (DBOS on SQLite files in a temporary directory, the real app lifespan):
0. one run of `--solo-steps` tool calls alone: the platform's overhead per step with nothing competing
   (a step = the model call's record, the tool call as a checkpointed DBOS step, the tool call's record);
1. `--runs` runs of `--steps` tool calls each, all started at once (over `--agents` agents, so per-agent
   limits do not serialize them): wall time until all ended, and the platform overhead per step (a run's
   time from start to end divided by its steps, median and p95; the scripted tool does nothing, so this is
   all MeshClaw + DBOS: queueing excluded, checkpointing and run_steps writes included);
2. resident memory of the process with `--agents` agents defined and `--hold` runs in progress (each
   waiting for an approval, the way a real run spends most of its life).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from meshclaw.agents import store as agents_store
from meshclaw.agents.spec import AgentSpec
from meshclaw.config import load_settings
from meshclaw.context import AppContext
from meshclaw.db.migrate import upgrade
from meshclaw.db.models import Run
from meshclaw.identity import store as identity
from meshclaw.identity.principal import Role
from meshclaw.runs import store
from meshclaw.runs.engine import RunEngine
from meshclaw.server.app import create_app


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def make_agents(context: AppContext, count: int, *, steps: int, approval: bool, prefix: str) -> list[int]:
    now = context.clock.now()
    ids = []
    with context.db.session() as session:
        org, _ = identity.ensure_org(session, name="Bench", now=now)
        owners = []
        for n in range(max(1, count // 10)):
            email = f"{prefix}{n}@example.org"
            owners.append(
                identity.create_user(
                    session,
                    org_id=org.id,
                    email=email,
                    role=Role.MEMBER,
                    team_id=None,
                    manager_id=None,
                    now=now,
                ).id
            )
        for n in range(count):
            spec = AgentSpec.model_validate(
                {
                    "name": f"{prefix}-{n}",
                    "settings": {"tool_calls": steps, "approval": approval},
                    "daily": {"max_runs": 100_000},
                    "allow_overlap": True,
                }
            )
            applied = agents_store.save_spec(session, org_id=org.id, owner_user_id=owners[n % len(owners)],
                                             spec=spec, created_by_user_id=None, now=now)  # fmt: skip
            ids.append(applied.agent.id)
    return ids


def wait_all(context: AppContext, run_ids: list[str], statuses: tuple[str, ...], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    wanted = set(run_ids)
    while time.monotonic() < deadline:
        with context.db.session() as session:
            done = session.scalar(
                select(func.count()).select_from(Run).where(Run.id.in_(wanted), Run.status.in_(statuses))
            )
        if done == len(wanted):
            return
        time.sleep(0.2)
    raise RuntimeError(f"runs did not reach {statuses} within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--hold", type=int, default=100)
    parser.add_argument("--solo-steps", type=int, default=50)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="meshclaw-bench-runs-"))
    settings = load_settings(
        data_dir=data_dir,
        runs_executor="tests.runs.scripted:build",
        runs_org_concurrency=args.runs,
        runs_user_concurrency=args.runs,
    )
    context = AppContext.from_settings(settings)
    upgrade(context.db)
    (solo,) = make_agents(context, 1, steps=args.solo_steps, approval=False, prefix="solo")
    workers = make_agents(context, args.agents, steps=args.steps, approval=False, prefix="worker")
    holders = make_agents(context, args.hold, steps=1, approval=True, prefix="holder")
    print(f"{args.agents + args.hold} agents defined; RSS before the app {rss_mib():.0f} MiB", flush=True)

    app = create_app(context)
    with TestClient(app):
        engine = app.state.runs
        assert isinstance(engine, RunEngine)
        solo_id = engine.start_run(solo, trigger_kind="manual")
        assert solo_id is not None
        wait_all(context, [solo_id], store.FINAL, timeout=600)
        with context.db.session() as session:
            run = session.get(Run, solo_id)
            assert run is not None and run.started_at and run.ended_at
            solo_ms = (run.ended_at - run.started_at).total_seconds() * 1000
        print(
            f"one run alone, {args.solo_steps} steps: {solo_ms / args.solo_steps:.1f} ms per step", flush=True
        )
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            run_ids = list(
                pool.map(
                    lambda n: engine.start_run(workers[n % len(workers)], trigger_kind="manual"),
                    range(args.runs),
                )
            )
        queued_s = time.monotonic() - started
        ids = [run_id for run_id in run_ids if run_id]
        wait_all(context, ids, store.FINAL, timeout=1800)
        wall = time.monotonic() - started
        with context.db.session() as session:
            rows = session.execute(
                select(Run.status, Run.started_at, Run.ended_at).where(Run.id.in_(ids))
            ).all()
        assert all(row.status == "succeeded" for row in rows), {row.status for row in rows}
        per_step = sorted(
            ((row.ended_at - row.started_at).total_seconds() * 1000 / args.steps) for row in rows
        )
        print(
            f"{args.runs} runs x {args.steps} steps: all ended in {wall:.1f} s (queued in {queued_s:.1f} s), "
            f"{args.runs * args.steps / wall:.0f} steps/s; per-step time inside a run: "
            f"median {statistics.median(per_step):.1f} ms, p95 {per_step[int(len(per_step) * 0.95)]:.1f} ms",
            flush=True,
        )

        held = [engine.start_run(agent_id, trigger_kind="manual") for agent_id in holders]
        wait_all(context, [run_id for run_id in held if run_id], ("waiting_approval",), timeout=600)
        time.sleep(2)
        print(
            f"RSS with {args.agents + args.hold} agents defined and {len(held)} runs in progress "
            f"(waiting for approval): {rss_mib():.0f} MiB; threads {threading.active_count()}",
            flush=True,
        )


if __name__ == "__main__":
    main()
