"""Gateway overhead and throughput: the stub called directly, LiteLLM's proxy and MeshClaw's gateway, side by
side in one run, with the same stub, the same load tools and the same requests.

The bars (Metering issue, Performance): added latency over calling the stub directly of p50 <= 1 ms and
p99 <= 5 ms at concurrency 1, p50 <= 2 ms and p99 <= 10 ms at 500 requests/s, streaming and not; maximum
throughput per worker process at least 20x LiteLLM's, reported with the share of direct throughput.

Rounds interleave the targets cell by cell (direct, LiteLLM, MeshClaw for one scenario, then the next), so a
noisy neighbour on this shared 2-core box hits all three alike; medians over rounds are reported. For each
cell it records requests/s, p50/p99, the CPU the target's process tree used per request (utime + stime from
/proc), the CPU the stub used per request, how many requests the stub served (a proxy that answered without
calling it would show), and peak RSS. Everything runs with 1 worker; LiteLLM without a database.

    bench/gateway/install.sh            # wrk (apt) and LiteLLM in its own venv, outside the repo
    .venv/bin/python -m bench.gateway.run [--rounds 3] [--seconds 10] [--targets direct,litellm,meshclaw]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bench.gateway import targets, wrk
from bench.gateway.procs import RssPeak, cpu_seconds
from bench.gateway.report import Cell, report
from bench.gateway.scenarios import Scenario, matrix
from bench.gateway.targets import Target, Unavailable
from tests.stub_upstream import RunningStub

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "RESULTS.md"


@dataclass
class Options:
    seconds: float
    rounds: int


def run_cell(scenario: Scenario, target: Target, stub: RunningStub, stub_pid: int, options: Options) -> Cell:
    url = target.base + scenario.path
    served_before = stub.stats(summary=True)["requests"]
    cpu_before, stub_cpu_before = cpu_seconds(target.pid), cpu_seconds(stub_pid)
    with RssPeak(target.pid) as rss:
        if scenario.load == "closed":
            closed = wrk.run(
                url,
                script=scenario.script,
                model=scenario.model,
                key=target.key,
                connections=scenario.level,
                seconds=options.seconds,
            )
            ok, rps, p50, p99, failed = (
                closed.requests - closed.non_2xx,
                closed.rps,
                closed.p50_ms,
                closed.p99_ms,
                closed.non_2xx + closed.socket_errors,
            )
            skipped = 0
            failures = {"non-2xx": closed.non_2xx, "socket errors": closed.socket_errors}
        else:
            command = [sys.executable, "-m", "bench.gateway.openloop", "--url", url, "--rate", str(scenario.level),
                       "--duration", str(options.seconds), "--body", scenario.body()]  # fmt: skip
            for header in scenario.headers(target.key):
                command += ["--header", header]
            done = subprocess.run(
                command, capture_output=True, text=True, cwd=ROOT, check=True, timeout=options.seconds + 60
            )
            result = json.loads(done.stdout)
            ok, rps, p50, p99 = result["ok"], result["achieved_rps"], result["p50_ms"], result["p99_ms"]
            failed, skipped, failures = result["failed"], result["skipped"], result["failures"]
    cpu = cpu_seconds(target.pid) - cpu_before
    stub_cpu = cpu_seconds(stub_pid) - stub_cpu_before
    served = stub.stats(summary=True)["requests"] - served_before
    return Cell(
        scenario=scenario, target=target.name, rps=rps, p50_ms=p50, p99_ms=p99, ok=ok, failed=failed, skipped=skipped,
        cpu_ms_per_request=cpu * 1000 / ok if ok else math.nan,
        stub_cpu_ms_per_request=stub_cpu * 1000 / served if served else math.nan,
        upstream_served=served, rss_peak_mib=rss.peak, rss_peak_single_mib=rss.peak_single, failures=failures,
    )  # fmt: skip


def settle(target: Target, *, limit_s: float = 60) -> None:
    """Wait until the target is idle: a proxy that fell behind keeps working through requests whose clients
    already left, and that work must not land in the next cell."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = cpu_seconds(target.pid)
        time.sleep(0.5)
        if cpu_seconds(target.pid) - before < 0.05:
            return


def measure(scenarios: list[Scenario], running: list[Target], stub: RunningStub, stub_pid: int, options: Options,
            raw: TextIO) -> tuple[list[Cell], list[str]]:  # fmt: skip
    """All rounds, the targets interleaved scenario by scenario."""
    cells: list[Cell] = []
    notes: dict[tuple[str, int], dict[int, str]] = {}  # (target, rate) -> round -> capacity that round
    for round_number in range(options.rounds):
        # A fixed rate above what a target served closed-loop this round would only measure its growing
        # queue (and leave it working for a minute after), so such cells are skipped and said so.
        capacity: dict[str, float] = {}
        for scenario in scenarios:
            for target in running:
                if scenario.load == "rate" and scenario.level > capacity.get(target.name, math.inf):
                    seen = notes.setdefault((target.name, scenario.level), {})
                    seen[round_number] = f"{capacity[target.name]:,.0f}"
                    continue
                cell = run_cell(scenario, target, stub, stub_pid, options)
                if scenario.load == "closed" and scenario.level > 1:
                    capacity[target.name] = max(capacity.get(target.name, 0.0), cell.rps)
                cells.append(cell)
                raw.write(
                    json.dumps({"round": round_number, **asdict(cell), "scenario": asdict(scenario)}) + "\n"
                )
                print(f"round {round_number + 1} {scenario.name} {scenario.load_label} {target.name}: "
                      f"{cell.rps:,.0f} req/s p50 {cell.p50_ms:.2f} p99 {cell.p99_ms:.2f} ms "
                      f"cpu {cell.cpu_ms_per_request:.2f} ms/req failed {cell.failed}", flush=True)  # fmt: skip
                settle(target)
    skipped = [
        f"{name} was not run at {rate} req/s in {len(seen)} of {options.rounds} rounds: its closed-loop "
        f"capacity that round was lower ({', '.join(seen.values())} req/s), and an open-loop test would only measure its queue"
        for (name, rate), seen in notes.items()
    ]
    return cells, skipped


def warm_up(target: Target, seconds: float) -> None:
    # Every route once before measuring: LiteLLM imports modules on the first call of each route.
    for scenario in matrix(high=8, rates=[])[:4]:
        try:
            wrk.run(target.base + scenario.path, script=scenario.script, key=target.key, connections=8,
                    seconds=seconds, model=scenario.model)  # fmt: skip
        except (subprocess.CalledProcessError, RuntimeError) as error:
            print(f"warm-up of {target.name} failed: {error}", flush=True)


def _revision() -> str:
    """Which MeshClaw was measured: the commit, and whether the shared working tree differed from it."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "meshclaw"], capture_output=True, text=True, cwd=ROOT,
                           check=False).stdout.splitlines()  # fmt: skip
    state = (
        f"with {len(dirty)} uncommitted changes under meshclaw/ (others' work in progress)"
        if dirty
        else "clean"
    )
    return f"MeshClaw code: commit {head.stdout.strip()}, working tree {state}."


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10, help="per cell")
    parser.add_argument("--high", type=int, default=32, help="connections for the throughput cells")
    parser.add_argument("--rates", default="50,500", help="fixed rates, requests/s, comma-separated")
    parser.add_argument("--targets", default="direct,litellm,meshclaw")
    parser.add_argument(
        "--bench-dir", type=Path, default=Path(os.environ.get("BENCH_DIR", "/work/.bench-litellm"))
    )
    parser.add_argument("--no-write", action="store_true", help="print the results, do not append them")
    args = parser.parse_args()
    command = " ".join([".venv/bin/python -m bench.gateway.run", *map(shlex.quote, sys.argv[1:])])
    wanted = args.targets.split(",")
    options = Options(seconds=args.seconds, rounds=args.rounds)
    scenarios = matrix(high=args.high, rates=[int(rate) for rate in args.rates.split(",")])
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    logs = args.bench_dir / "results" / f"gateway-{stamp}"
    logs.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    load_before = os.getloadavg()[0]
    revision = _revision()  # now, as `meshclaw up` loads it: others commit to the shared tree during a run
    with ExitStack() as stack:
        stub, direct = stack.enter_context(targets.stub())
        running = [direct]
        if "litellm" in wanted:
            try:
                running.append(
                    stack.enter_context(targets.litellm(stub, bench_dir=args.bench_dir, logs=logs))
                )
            except Unavailable as error:
                notes.append(f"LiteLLM not measured: {error}")
        if "meshclaw" in wanted:
            try:
                running.append(stack.enter_context(targets.meshclaw(stub, logs=logs)))
            except Unavailable as error:
                notes.append(f"MeshClaw not measured: {error}")
        for note in notes:
            print(note, flush=True)
        for target in running:
            warm_up(target, 3)
        if "direct" not in wanted:
            running.remove(direct)
        with (logs / "cells.jsonl").open("w") as raw:
            cells, skipped = measure(scenarios, running, stub, direct.pid, options, raw)
        notes += skipped
    notes.append(revision)
    notes.append(f"Load average (1 min) of this shared machine: {load_before:.1f} at the start, "
                 f"{os.getloadavg()[0]:.1f} at the end (2 cores).")  # fmt: skip
    text = report(command=command, cells=cells, idle_rss={t.name: t.idle_rss_mib for t in running}, notes=notes,
                  rounds=args.rounds, seconds=args.seconds, logs=logs)  # fmt: skip
    print(text)
    if not args.no_write:
        RESULTS.write_text(RESULTS.read_text().rstrip("\n") + "\n\n" + text)
        print(f"appended to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
