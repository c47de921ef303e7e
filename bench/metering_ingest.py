"""How fast usage events are ingested: `Recorder.record_usage` to committed rows and rollups.

The bar (Metering issue): at least 50,000 events/s into SQLite, and the PostgreSQL figure. Each run
records N events (prebuilt, so the figure is the recorder's, not the caller's) spread over 2,000 people,
20 models and 5 clients, the way a gateway would, and measures:

- the recording rate: how fast `record_usage` returns (crash journal write included), which is what a
  caller on the request path pays;
- the ingestion rate: N / (time from the first `record_usage` until `flush()` returns, i.e. until every
  event and its hourly and daily rollups are committed).

Then it checks the database holds exactly N events and that the rollups sum to N requests. Every run
starts from a freshly migrated, empty database; the median of the runs is reported. PostgreSQL runs with
its normal durability (fsync on) on a private server started for the run.

This shared machine's speed has varied by 2-2.5x from one day to the next (bench/RESULTS.md, 2026-12-03),
so each run also times a fixed reference task that does not depend on MeshClaw's code: 100,000 narrow
rows inserted into an in-memory SQLite database, best of 5. Figures from different days compare only
alongside it.

    .venv/bin/python -m bench.metering_ingest [--events 200000] [--runs 3] [--skip-postgres] [--no-write]
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from meshclaw.config import load_settings
from meshclaw.context import AppContext
from meshclaw.db.migrate import upgrade
from meshclaw.db.models import UsageEventRow, UsageRollup
from meshclaw.metering.events import TokenBuckets, UsageEvent
from meshclaw.metering.prices import add_price
from meshclaw.metering.recorder import Recorder

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).with_name("RESULTS.md")
MODELS = [f"model-{index}" for index in range(20)]
CLIENTS = ["claude-code", "codex", "openai-python", "anthropic-python", "curl"]


def events(count: int, start: datetime) -> list[UsageEvent]:
    built = []
    for index in range(count):
        at = start + timedelta(milliseconds=index)
        built.append(
            UsageEvent(
                source="gateway",
                started_at=at,
                ended_at=at + timedelta(milliseconds=350),
                provider="stub",
                requested_model=MODELS[index % 20],
                model=MODELS[index % 20],
                tokens=TokenBuckets(input_uncached=900, cache_read=300, output=120, reasoning=40),
                raw_usage={"prompt_tokens": 1200, "completion_tokens": 160},
                user_id=1 + index % 2000,
                team_id=1 + index % 40,
                api_key_id=1 + index % 2000,
                client=CLIENTS[index % 5],
                prompt_hash=f"{index % 5000:032x}",
            )
        )
    return built


@contextmanager
def contexts(backend: str) -> Iterator[Callable[[], AppContext]]:
    with tempfile.TemporaryDirectory(prefix="meshclaw-bench-") as root:
        counter = iter(range(1_000_000))
        if backend == "sqlite":
            yield lambda: AppContext.from_settings(load_settings(data_dir=Path(root) / f"run{next(counter)}"))
            return
        sys.path.insert(0, str(ROOT))
        from tests.postgres import private_postgres

        with private_postgres(durable=True) as server:

            def fresh() -> AppContext:
                url = server.url(server.create_database("bench"))
                return AppContext.from_settings(
                    load_settings(data_dir=Path(root) / f"run{next(counter)}", database_url=url)
                )

            yield fresh


def machine_reference() -> float:
    """Microseconds of CPU per row for the reference task (module docstring), best of 5."""
    rows = [(index, f"event-{index:08d}", index % 2000, index * 7) for index in range(100_000)]
    best = math.inf
    for _ in range(5):
        connection = sqlite3.connect(":memory:")
        connection.execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, user_id INTEGER, tokens INTEGER)"
        )
        connection.execute("CREATE INDEX t_user ON t (user_id)")
        began = time.process_time()
        with connection:
            connection.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", rows)
        best = min(best, (time.process_time() - began) / len(rows) * 1e6)
        connection.close()
    return best


def run_once(context: AppContext, count: int) -> tuple[float, float, float]:
    upgrade(context.db)
    start = datetime.now(UTC).replace(microsecond=0)
    with context.db.session() as session:
        for model in MODELS:
            add_price(session, model=model, input_uncached=2.5, output=10, cache_read=0.25,
                      effective_from=start - timedelta(days=1), created_by_user_id=None, now=start)  # fmt: skip
    batch = events(count, start)
    recorder = Recorder(context.db, journal_dir=Path(context.settings.data_dir) / "journal")
    recorder.start()
    began, cpu_began = time.perf_counter(), time.process_time()
    for event in batch:
        recorder.record_usage(event)
    recorded = time.perf_counter()
    recorder.flush(timeout=600)
    committed, cpu_committed = time.perf_counter(), time.process_time()
    recorder.close()
    with context.db.session() as session:
        stored = session.scalar(select(func.count()).select_from(UsageEventRow))
        requests = session.scalar(select(func.sum(UsageRollup.requests)).where(UsageRollup.bucket == "day"))
    if stored != count or requests != count:
        raise SystemExit(
            f"wrong totals: {stored} events and {requests} requests in rollups, expected {count}"
        )
    context.db.dispose()
    # CPU of every thread of this process (recording and writer, SQLite's work included; not PostgreSQL's
    # server) per event: steadier than wall time on a shared machine.
    return count / (recorded - began), count / (committed - began), (cpu_committed - cpu_began) / count * 1e6


def measure(backend: str, count: int, runs: int) -> tuple[list[float], list[float]]:
    recording, ingestion = [], []
    with contexts(backend) as fresh:
        for _ in range(runs):
            record_rate, ingest_rate, cpu_us = run_once(fresh(), count)
            recording.append(record_rate)
            ingestion.append(ingest_rate)
            load = os.getloadavg()[0]
            print(
                f"{backend}: record {record_rate:,.0f}/s, ingest {ingest_rate:,.0f}/s, "
                f"CPU {cpu_us:.1f} us/event (load {load:.1f})",
                flush=True,
            )
    return recording, ingestion


def report(
    command: str, count: int, by_backend: dict[str, tuple[list[float], list[float]]], reference: float
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"## Usage ingestion: {count:,} events per run ({when})",
        "",
        f"Command: `{command}`",
        "",
        "Events spread over 2,000 people, 20 priced models and 5 clients. *Recording* is how fast "
        "`record_usage` returns (crash-journal write included); *ingestion* is N divided by the time from "
        "the first `record_usage` until every event and its hourly and daily rollups are committed. Each run "
        "checks that exactly N events are stored and that the rollups sum to N requests. Bar: 50,000 events/s "
        "into SQLite.",
        "",
        f"Machine reference (100,000 narrow rows into an in-memory SQLite table, best of 5): {reference:.2f} us "
        "CPU per row.",
        "",
        "| backend | ingestion, events/s (median) | recording, calls/s (median) | ingestion runs | recording runs |",
        "|---|---|---|---|---|",
    ]
    for backend, (recording, ingestion) in by_backend.items():
        lines.append(
            f"| {backend} | {statistics.median(ingestion):,.0f} | {statistics.median(recording):,.0f} | "
            f"{', '.join(f'{v:,.0f}' for v in ingestion)} | {', '.join(f'{v:,.0f}' for v in recording)} |"
        )
    return "\n".join([*lines, ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print the results, do not append them")
    args = parser.parse_args()
    command = " ".join([".venv/bin/python -m bench.metering_ingest", *map(shlex.quote, sys.argv[1:])])
    reference = machine_reference()
    print(f"machine reference: {reference:.2f} us CPU per row", flush=True)
    by_backend = {"SQLite": measure("sqlite", args.events, args.runs)}
    if not args.skip_postgres:
        by_backend["PostgreSQL 15"] = measure("postgresql", args.events, args.runs)
    text = report(command, args.events, by_backend, reference)
    print(text)
    if not args.no_write:
        RESULTS.write_text(RESULTS.read_text().rstrip("\n") + "\n\n" + text)
        print(f"appended to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
