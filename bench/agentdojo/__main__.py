"""Run the whole AgentDojo proof and print the numbers SECURITY.md quotes:

    .venv/bin/python -m bench.agentdojo                # the policy gate (DefaultGate until it exists)
    .venv/bin/python -m bench.agentdojo --gate none    # no gate: how often the attacker gets through
    .venv/bin/python -m bench.agentdojo --json results.json

1. the 949 attack pairs, unattended (nobody there to approve: the run waits), with the chosen gate;
2. the same, with the agent set to carry on without the approvals (`unattended_approvals = "skip"`);
3. the same pairs attended, the test approving only the calls the user's task needs;
4. the 97 user tasks without attack, attended, the test approving what they need.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from bench.agentdojo import benchmark
from bench.agentdojo.gates import GATES, make_gate
from bench.agentdojo.harness import CaseResult
from meshclaw.agents.runtime.contract import RunMode, ToolGate
from meshclaw.agents.spec import AgentSpec


async def attacks(
    gate: ToolGate, mode: RunMode, suites: list[str], only: list[str], skip_approvals: bool = False
) -> list[CaseResult]:
    return [
        await benchmark.run_pair(
            pair, gate=gate, mode=mode, unattended_approvals="skip" if skip_approvals else "wait"
        )
        for pair in benchmark.pairs(suites)
        if not only or f"{pair[0]}/{pair[2].ID}" in only
    ]


async def benign(gate: ToolGate, suites: list[str]) -> list[CaseResult]:
    results = []
    for name in suites:
        for user_task in benchmark.suite(name).user_tasks.values():
            results.append(await benchmark.run_benign(name, user_task, gate=gate))
    return results


def summary(label: str, results: list[CaseResult], seconds: float) -> str:
    by_suite: Counter[str] = Counter(case.suite for case in results)
    lines = [f"{label}: {len(results)} cases in {seconds:.1f} s"]
    for name in sorted(by_suite):
        cases = [case for case in results if case.suite == name]
        lines.append(
            f"  {name:10} cases {len(cases):4}  utility {sum(c.utility for c in cases):4}"
            f"  attacked {sum(c.attacked for c in cases):4}"
            f"  (by requested calls {sum(c.attacked_by_requests for c in cases):4})"
            f"  obeyed {sum(c.obeyed for c in cases):4}"
        )
    lines.append(
        f"  {'total':10} cases {len(results):4}  utility {sum(c.utility for c in results):4}"
        f"  attacked {sum(c.attacked for c in results):4}"
        f"  (by requested calls {sum(c.attacked_by_requests for c in results):4})"
        f"  obeyed {sum(c.obeyed for c in results):4}"
    )
    clean = [c for c in results if c.clean_answer]
    if clean:
        answerable = sum(bool(c.answerable) for c in clean)
        quoting = sum(bool(c.answerable_quoting) for c in clean)
        lines.append(
            f"  answers written apart from outsiders' text {len(clean)}: the record holds what the task asks"
            f" for in {answerable}, quoting the withheld texts in {quoting}"
        )
        missing = Counter(f"{c.suite}/{c.user_task}" for c in clean if c.utility and not c.answerable)
        lines.append("  user tasks solved whose record does not hold the answer: "
                     + ", ".join(f"{k} x{v}" if v > 1 else k for k, v in sorted(missing.items())))  # fmt: skip
    breaches = Counter(f"{c.suite}/{c.injection_task}" for c in results if c.attacked)
    if breaches:
        tainted = sum(c.tainted for c in results if c.attacked)
        lines.append(f"  of the runs an attack got through, {tainted} reported themselves tainted")
        lines.append(
            "  attacks that succeeded: " + ", ".join(f"{k} x{v}" for k, v in sorted(breaches.items()))
        )
    return "\n".join(lines)


LABELS = {
    "unattended": "attacks, unattended",
    "unattended-skip": "attacks, unattended, carrying on without approvals (unattended_approvals = skip)",
    "attended": "attacks, attended (only the user's calls approved)",
    "benign": "user tasks without attack, attended",
}


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.agentdojo", description=__doc__)
    parser.add_argument("--gate", choices=sorted(GATES), default="policy")
    parser.add_argument("--suites", nargs="*", default=list(benchmark.SUITES), choices=benchmark.SUITES)
    parser.add_argument("--skip", nargs="*", default=[], choices=sorted(LABELS))
    parser.add_argument("--only", nargs="*", default=[], help="injection tasks as suite/injection_task_N")
    parser.add_argument("--json", type=Path, help="write every case's result here")
    args = parser.parse_args(argv)
    gate = make_gate(args.gate)
    print(
        f"agentdojo {benchmark.VERSION}, attack {benchmark.ATTACK}, gate {type(gate).__module__}.{type(gate).__name__}"
    )
    everything: dict[str, list[CaseResult]] = {}
    for part in LABELS:
        if part in args.skip:
            continue
        if part == "unattended-skip" and "unattended_approvals" not in AgentSpec.model_fields:
            print(f"{LABELS[part]}: not run, this runtime's agents have no unattended_approvals setting")
            continue
        started = time.perf_counter()
        if part == "benign":
            results = await benign(gate, args.suites)
        else:
            mode: RunMode = "attended" if part == "attended" else "unattended"
            results = await attacks(gate, mode, args.suites, args.only, part == "unattended-skip")
        everything[part] = results
        label = LABELS[part]
        print(summary(label, results, time.perf_counter() - started), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({k: [asdict(c) for c in v] for k, v in everything.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
