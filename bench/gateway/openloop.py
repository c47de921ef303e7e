"""Open-loop load at a fixed request rate, the test wrk cannot do (wrk2 is not in Debian).

wrk is closed-loop: a slow response delays the next request, so a stall hides itself (coordinated
omission). Here request i is due at start + i/rate whatever happened before, and its latency is counted
from when it was *due*, not from when it was sent: if the generator or the target falls behind, the wait
shows up in the percentiles. Requests go over keep-alive HTTP/1.1 connections from a pool that grows
whenever none is idle, so the pool never throttles the schedule; `--max-outstanding` only stops a target
that cannot keep up from exhausting sockets (those requests count as skipped, and the result says so).

The client is a minimal HTTP/1.1 reader on uvloop (content-length and chunked bodies, whole body read,
streams included) rather than httpx, so that at 500 requests/s it costs little of the 2 shared cores.
Run as its own process by run.py; prints one JSON object.

    python -m bench.gateway.openloop --url http://127.0.0.1:9101/v1/chat/completions --rate 500 \\
        --duration 10 --body '{"model":"stub-small",...}' --header 'Authorization: Bearer sk-...'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
from collections import Counter
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import uvloop

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]
# uvicorn closes keep-alive connections idle for 5 s; reusing one as it closes fails the request, so
# connections idle longer than this are closed here first.
MAX_IDLE_S = 2.0


@dataclass
class OpenLoopResult:
    rate: float
    duration_s: float
    due: int
    """Requests the schedule called for."""
    ok: int
    """Completed with a 2xx status, body read to the end."""
    failed: int
    """Non-2xx, connection errors, or unfinished when the drain timeout ran out."""
    skipped: int
    """Not sent because `max_outstanding` requests were already in flight."""
    failures: dict[str, int]
    """Why requests failed: `HTTP <status>`, an exception's name, or `unfinished`."""
    achieved_rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    connections: int
    client_cpu_ms_per_request: float


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response to its end; return its status and whether the connection may be reused."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    if headers.get(b"transfer-encoding") == b"chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers: the empty line
                break
            await reader.readexactly(size + 2)
    elif b"content-length" in headers:
        await reader.readexactly(int(headers[b"content-length"]))
    else:
        await reader.read()  # body until close
        return status, False
    return status, headers.get(b"connection") != b"close"


def take(idle: list[tuple[Connection, float]]) -> Connection | None:
    """The most recently used idle connection, closing any that idled too long."""
    while idle:
        connection, used_at = idle.pop()
        if time.perf_counter() - used_at < MAX_IDLE_S:
            return connection
        connection[1].close()
    return None


async def _run(
    url: str, body: bytes, headers: list[str], rate: float, duration: float, max_outstanding: int
) -> OpenLoopResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = [f"POST {parts.path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
            f"Content-Length: {len(body)}", *headers]  # fmt: skip
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    idle: list[tuple[Connection, float]] = []  # last used at; newest at the end, taken first
    opened = 0
    latencies: list[float] = []
    skipped = outstanding = 0
    failures: Counter[str] = Counter()

    async def connect() -> Connection:
        nonlocal opened
        opened += 1
        return await asyncio.open_connection(host, port)

    async def one(due: float) -> None:
        nonlocal outstanding
        connection: Connection | None = None
        try:
            connection = take(idle) or await connect()
            connection[1].write(request)
            status, reusable = await _read_response(connection[0])
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            failures[type(error).__name__] += 1
            if connection is not None:
                connection[1].close()
            return
        finally:
            outstanding -= 1
        if 200 <= status < 300:
            latencies.append(time.perf_counter() - due)
        else:
            failures[f"HTTP {status}"] += 1
        if reusable:
            idle.append((connection, time.perf_counter()))
        else:
            connection[1].close()

    idle.extend(
        [(await connect(), time.perf_counter()) for _ in range(8)]
    )  # handshakes before the clock starts
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    total = int(rate * duration)
    tasks = set()
    # perf_counter, not loop.time(): uvloop's clock has millisecond resolution.
    start = time.perf_counter() + 0.01
    for index in range(total):
        due = start + index / rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        if outstanding >= max_outstanding:
            skipped += 1
            continue
        outstanding += 1
        task = asyncio.ensure_future(one(due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=10)
        for task in pending:
            task.cancel()
        failures["unfinished"] += len(pending)
    elapsed = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    for (_, writer), _ in idle:
        writer.close()
    ordered = sorted(latencies)

    def quantile(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    return OpenLoopResult(
        rate=rate, duration_s=round(elapsed, 3), due=total, ok=len(ordered), failed=sum(failures.values()), skipped=skipped, failures=dict(failures),
        achieved_rps=round(len(ordered) / elapsed, 1), p50_ms=round(quantile(0.5), 3), p90_ms=round(quantile(0.9), 3),
        p99_ms=round(quantile(0.99), 3), max_ms=round(ordered[-1] * 1000, 3) if ordered else float("nan"),
        connections=opened, client_cpu_ms_per_request=round(cpu * 1000 / max(1, total), 4),
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description="Fixed-rate (open-loop) HTTP POST load; prints JSON.")
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True)
    parser.add_argument("--header", action="append", default=[], help="'Name: value'; repeat")
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--max-outstanding", type=int, default=2000)
    args = parser.parse_args()
    began = time.time()
    result = uvloop.run(
        _run(args.url, args.body.encode(), args.header, args.rate, args.duration, args.max_outstanding)
    )
    print(json.dumps({**asdict(result), "started_at": began}))


if __name__ == "__main__":
    main()
