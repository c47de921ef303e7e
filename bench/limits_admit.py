"""What budgets cost a model call: `Limiter.admit` + `Ticket.settle`, in memory, per call.

The gateway's budget for everything it adds is 1 ms at the median; admission must be a small part of
it. Each scenario admits and settles N calls for one subject (API key, person, team, as the gateway
sends them), the clock advancing 2 ms a call (500 calls/s, so the per-minute windows hold 30,000 live
entries, as under that load):

- `none`: no budget applies to the subject (the common case: one dictionary lookup per id);
- `typical`: a person's hard USD per day, a soft USD per month, the team's hard USD per month and the
  key's requests and tokens per minute (5 limits);
- `threads`: `typical` from 8 threads at once (the lock's cost under contention).

It prints microseconds per admit+settle (median of the runs). Machine load inflates every figure: run it
on an idle machine, and compare with `python -c 'import datetime'`-scale operations, not with a
constant.

    .venv/bin/python -m bench.limits_admit [--calls 200000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta

from meshclaw.limits.admission import Limiter, Snapshot, Subject
from meshclaw.limits.rules import Rule

START = datetime(2026, 12, 2, 12, tzinfo=UTC)
SUBJECT = Subject(api_key_id=100, user_id=1, team_id=10)


def _rule(
    ident: int, subject_type: str, subject_id: int, unit: str, period: str, enforcement: str = "hard"
) -> Rule:
    return Rule(
        id=ident,
        subject_type=subject_type,  # type: ignore[arg-type]
        subject_id=subject_id,
        unit=unit,  # type: ignore[arg-type]
        period=period,  # type: ignore[arg-type]
        enforcement=enforcement,  # type: ignore[arg-type]
        amount=10**15,
        scope=f"{subject_type} {subject_id}",
    )


TYPICAL = [
    _rule(1, "user", 1, "usd", "day"),
    _rule(2, "user", 1, "usd", "month", "soft"),
    _rule(3, "team", 10, "usd", "month"),
    _rule(4, "api_key", 100, "requests", "minute"),
    _rule(5, "api_key", 100, "tokens", "minute"),
]


def _limiter(rules: list[Rule]) -> Limiter:
    limiter = Limiter(alert_sinks=[])
    limiter.replace(Snapshot(rules=rules), now=START)
    return limiter


def _calls(limiter: Limiter, moments: list[datetime]) -> None:
    for now in moments:
        limiter.admit(SUBJECT, reserve_tokens=1_200, reserve_cost_microusd=900, now=now).settle(
            tokens=700, cost_microusd=500, now=now
        )


def one_thread(rules: list[Rule], calls: int) -> float:
    limiter = _limiter(rules)
    moments = [START + timedelta(milliseconds=2 * i) for i in range(calls)]
    began = time.perf_counter()
    _calls(limiter, moments)
    return (time.perf_counter() - began) / calls * 1e6


def threads(rules: list[Rule], calls: int, count: int = 8) -> float:
    limiter = _limiter(rules)
    per = calls // count
    moments = [START + timedelta(milliseconds=2 * i) for i in range(per)]
    workers = [threading.Thread(target=_calls, args=(limiter, moments)) for _ in range(count)]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return (time.perf_counter() - began) / (per * count) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    scenarios = {
        "none": lambda: one_thread([], args.calls),
        "typical": lambda: one_thread(TYPICAL, args.calls),
        "threads": lambda: threads(TYPICAL, args.calls),
    }
    for name, run in scenarios.items():
        figure = statistics.median(run() for _ in range(args.runs))
        print(f"{name:8} {figure:7.2f} µs per admit+settle")


if __name__ == "__main__":
    main()
