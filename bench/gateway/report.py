"""The Markdown section for bench/RESULTS.md: medians over rounds per scenario and target, latency added
over calling the stub directly, and the throughput, CPU and memory comparison against LiteLLM."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.gateway.scenarios import Scenario

DIRECT = "direct"


@dataclass
class Cell:
    """One target under one scenario for one round."""

    scenario: Scenario
    target: str
    rps: float
    p50_ms: float
    p99_ms: float
    ok: int
    failed: int
    """Non-2xx answers and socket errors (wrk), or failed and timed-out requests (open loop)."""
    skipped: int
    cpu_ms_per_request: float
    """CPU (utime + stime) of the target's process tree per request answered."""
    stub_cpu_ms_per_request: float
    upstream_served: int
    rss_peak_mib: float
    rss_peak_single_mib: float
    failures: dict[str, int]
    """Why requests failed (wrk: non-2xx and socket errors; open loop: status or exception)."""


@dataclass
class Summary:
    rps: float
    runs: list[float]
    p50_ms: float
    p99_ms: float
    cpu_ms: float
    rss_mib: float
    failed: int
    ok: int
    upstream_served: int


def summarize(cells: list[Cell]) -> Summary:
    return Summary(
        rps=statistics.median(c.rps for c in cells),
        runs=[c.rps for c in cells],
        p50_ms=statistics.median(c.p50_ms for c in cells),
        p99_ms=statistics.median(c.p99_ms for c in cells),
        cpu_ms=statistics.median(c.cpu_ms_per_request for c in cells),
        rss_mib=max(c.rss_peak_mib for c in cells),
        failed=sum(c.failed + c.skipped for c in cells),
        ok=sum(c.ok for c in cells),
        upstream_served=sum(c.upstream_served for c in cells),
    )


def _runs(values: list[float]) -> str:
    return ", ".join(f"{v:,.0f}" if v >= 100 else f"{v:.1f}" for v in values)


def _rps(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def report(
    *,
    command: str,
    cells: list[Cell],
    idle_rss: dict[str, float],
    notes: list[str],
    rounds: int,
    seconds: float,
    logs: Path,
) -> str:
    targets = list(dict.fromkeys(c.target for c in cells))
    scenarios = list(dict.fromkeys(c.scenario for c in cells))
    table = {
        (s, t): summarize([c for c in cells if c.scenario == s and c.target == t])
        for s in scenarios
        for t in targets
        if any(c.scenario == s and c.target == t for c in cells)
    }
    partial = not any(t == "MeshClaw" for t in targets)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"## Gateway: MeshClaw vs LiteLLM vs the stub directly ({when})"
    if partial:
        title += " (PARTIAL: MeshClaw not measured in this run)"
    lines = [
        title,
        "",
        f"Command: `bench/gateway/install.sh && {command}`",
        "",
        f"One run, {rounds} rounds, {seconds:g} s per cell; rounds interleave the targets scenario by scenario and "
        "the table gives medians over rounds (runs listed). All targets run with 1 worker process and call the same "
        "stub upstream (`tests.stub_upstream`, its own process, which checks that it receives the provider key). "
        "**LiteLLM 1.109.1 runs without a database** (master key only): its PostgreSQL mode needs Prisma engine "
        "binaries that cannot be downloaded here (../shared/research/litellm-baseline.md), so it does no key lookup "
        "or spend tracking, while MeshClaw meters every call and checks budgets. Closed-loop cells use wrk 4.1.0; "
        "fixed-rate cells use `bench/gateway/openloop.py` (latency counted from when each request was due, so "
        "stalls are not hidden). The load generator, the stub and the proxy share this machine's 2 cores with "
        "other engineers' work, so numbers are noisy. Streams: 8 content chunks, timed to the last byte. "
        "CPU/req is utime+stime of the target's process tree per answered request (from /proc).",
        "",
        "| scenario | load | target | req/s median (runs) | p50 ms | p99 ms | added p50 / p99 ms vs direct | CPU ms/req | peak RSS MiB | failed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario in scenarios:
        direct = table.get((scenario, DIRECT))
        for target in targets:
            row = table.get((scenario, target))
            if row is None:
                continue
            added = "-"
            if direct is not None and target != DIRECT:
                added = f"+{row.p50_ms - direct.p50_ms:.2f} / +{row.p99_ms - direct.p99_ms:.2f}"
            if row.ok == 0:
                # wrk times error answers like any other: with no success there is nothing to report
                failed = f"{row.failed:,}"
                lines.append(f"| {scenario.name} | {scenario.load_label} | {target} | all {failed} failed | "
                             f"- | - | - | - | - | {failed} |")  # fmt: skip
                continue
            lines.append(
                f"| {scenario.name} | {scenario.load_label} | {target} | {_rps(row.rps)} ({_runs(row.runs)}) | "
                f"{row.p50_ms:.2f} | {row.p99_ms:.2f} | {added} | {row.cpu_ms:.2f} | {row.rss_mib:.0f} | {row.failed} |"
            )
    lines += ["", *_summary(table, scenarios, targets, idle_rss), ""]
    lines += [f"- {note}" for note in notes]
    lines.append(f"- Raw per-cell results and target logs: `{logs}` (outside the repo).")
    return "\n".join([*lines, ""])


def _summary(
    table: dict[tuple[Scenario, str], Summary],
    scenarios: list[Scenario],
    targets: list[str],
    idle_rss: dict[str, float],
) -> list[str]:
    throughput = [s for s in scenarios if s.load == "closed" and s.level > 1]
    lines = ["| per worker | " + " | ".join(targets) + " |", "|---|" + "---|" * len(targets)]
    for scenario in throughput:
        direct = table.get((scenario, DIRECT))
        cells = []
        for target in targets:
            row = table.get((scenario, target))
            if row is None:
                cells.append("-")
                continue
            share = f", {row.rps / direct.rps:.1%} of direct" if direct and target != DIRECT else ""
            cells.append(f"{_rps(row.rps)} req/s{share}")
        lines.append(
            f"| max throughput, {scenario.name} ({scenario.load_label}) | " + " | ".join(cells) + " |"
        )
        cpu = [f"{table[(scenario, t)].cpu_ms:.2f}" if (scenario, t) in table else "-" for t in targets]
        lines.append(
            f"| CPU ms per request, {scenario.name} ({scenario.load_label}) | " + " | ".join(cpu) + " |"
        )
    rss = []
    for target in targets:
        peak = max((row.rss_mib for (s, t), row in table.items() if t == target), default=0.0)
        rss.append(f"{idle_rss.get(target, 0):.0f} / {peak:.0f}")
    lines.append("| RSS MiB, idle after start / peak under load | " + " | ".join(rss) + " |")
    if "MeshClaw" in targets and any(t.startswith("LiteLLM") for t in targets):
        litellm = next(t for t in targets if t.startswith("LiteLLM"))
        ratios = []
        for scenario in throughput:
            mine, theirs = table.get((scenario, "MeshClaw")), table.get((scenario, litellm))
            if mine and theirs:
                ratios.append(f"{scenario.name}: {mine.rps / theirs.rps:.1f}x")
        lines.append("")
        lines.append(f"MeshClaw / LiteLLM throughput per worker (bar: >= 20x): {'; '.join(ratios)}.")
    return lines
