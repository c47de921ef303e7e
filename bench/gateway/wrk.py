"""Closed-loop load with wrk (Debian's wrk 4.1.0) and the parsing of its report."""

from __future__ import annotations

import math
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    raw: str


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def parse(output: str) -> WrkResult:
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", output, re.MULTILINE))
    requests = re.search(r"(\d+) requests in", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if not (requests and rps and "50" in percentiles and "99" in percentiles):
        raise RuntimeError(f"could not read wrk's report:\n{output}")
    count = int(requests.group(1))
    return WrkResult(
        requests=count,
        rps=float(rps.group(1)),
        # wrk prints 0.00us percentiles when nothing completed
        p50_ms=_ms(percentiles["50"]) if count else math.nan,
        p99_ms=_ms(percentiles["99"]) if count else math.nan,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
        raw=output,
    )


def run(
    url: str, *, script: str, key: str, connections: int, seconds: float, model: str = "stub-small"
) -> WrkResult:
    """wrk with `script` (a Lua file beside this one) at `connections`; one thread per 16 connections, at
    most 2 (this box has 2 cores, and wrk needs at least as many connections as threads). The timeout is
    60 s, not wrk's 2 s: a slow proxy at c32 queues for seconds, and a timed-out request would vanish
    from its throughput although it was served."""
    threads = max(1, min(2, connections // 16))
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "60s",
        "--latency",
        "-s",
        str(HERE / script),
        url,
    ]
    env = {**os.environ, "WRK_KEY": key, "WRK_MODEL": model}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 120, check=True)
    return parse(done.stdout)
