"""What an agent's memory costs a tool call: `remember` and `recall` (search + recall log) per call, each
in its own transaction as the tools run them, on an agent holding N items, on SQLite and PostgreSQL.

The corpus is synthetic: sentences of 8-20 words drawn (seeded) from a 5,000-word vocabulary with a
Zipf-like skew, so common words match many items, as in real notes. Queries are 3-6 words drawn the same
way. A second agent holds as many items, so the agent filter has work to do. PostgreSQL runs durable
(fsync on), as in production.

    .venv/bin/python -m bench.memory_recall [--items 10000] [--calls 300] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from meshclaw.agents.memory.recall import recall
from meshclaw.agents.memory.store import remember
from meshclaw.db.engine import Database
from meshclaw.db.migrate import upgrade
from meshclaw.db.models import Agent, Organization, User

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _vocabulary(rng: random.Random, size: int = 5000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
    return sorted(words)


def _sentence(rng: random.Random, vocabulary: list[str], low: int, high: int) -> str:
    # Zipf-like: index = size * u^3 favours the first words.
    size = len(vocabulary)
    return " ".join(vocabulary[int(size * rng.random() ** 3)] for _ in range(rng.randint(low, high)))


def _setup(db: Database) -> tuple[int, int]:
    upgrade(db)
    with db.session() as session:
        org = Organization(name="Bench", created_at=T0)
        session.add(org)
        session.flush()
        user = User(
            org_id=org.id, email="bench@example.org", name="bench", role="member", active=True, created_at=T0
        )
        session.add(user)
        session.flush()
        agents = [
            Agent(org_id=org.id, owner_user_id=user.id, name=name, enabled=True, created_at=T0, updated_at=T0)
            for name in ("a", "b")
        ]
        session.add_all(agents)
        session.flush()
        return agents[0].id, agents[1].id


def _fill(
    db: Database, agent_ids: tuple[int, int], items: int, rng: random.Random, vocabulary: list[str]
) -> float:
    started = time.perf_counter()
    with db.session() as session:
        for index in range(items * 2):
            remember(
                session,
                agent_id=agent_ids[index % 2],
                content=_sentence(rng, vocabulary, 8, 20) + f" n{index}",
                origin="trusted",
                source="tool",
                now=T0,
            )
    return time.perf_counter() - started


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def run(db: Database, items: int, calls: int) -> dict[str, float]:
    rng = random.Random(7)  # noqa: S311  (a reproducible corpus, not a secret)
    vocabulary = _vocabulary(rng)
    agent_ids = _setup(db)
    fill_s = _fill(db, agent_ids, items, rng, vocabulary)
    now = T0 + timedelta(hours=1)
    remember_s: list[float] = []
    for index in range(calls):
        content = _sentence(rng, vocabulary, 8, 20) + f" new{index}"
        started = time.perf_counter()
        with db.session() as session:
            remember(
                session, agent_id=agent_ids[0], content=content, origin="trusted", source="tool", now=now
            )
        remember_s.append(time.perf_counter() - started)
    recall_s: list[float] = []
    found = 0
    for _ in range(calls):
        query = _sentence(rng, vocabulary, 3, 6)
        started = time.perf_counter()
        with db.session() as session:
            found += len(
                recall(session, agent_id=agent_ids[0], query=query, now=now, limit=5, run_id="bench")
            )
        recall_s.append(time.perf_counter() - started)
    remember_p50, remember_p99 = _percentiles(remember_s)
    recall_p50, recall_p99 = _percentiles(recall_s)
    return {
        "fill_s": fill_s,
        "remember_p50_ms": remember_p50,
        "remember_p99_ms": remember_p99,
        "recall_p50_ms": recall_p50,
        "recall_p99_ms": recall_p99,
        "hits_per_recall": found / calls,
    }


@contextmanager
def _database(backend: str) -> Iterator[Database]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite:///{Path(tmp) / 'bench.db'}")
            try:
                yield db
            finally:
                db.dispose()
        return
    from tests.postgres import private_postgres

    with private_postgres(durable=True) as server:
        url = server.url(server.create_database("bench")).replace("postgresql://", "postgresql+psycopg://")
        db = Database(url)
        try:
            yield db
        finally:
            db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000, help="items per agent (two agents)")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        with _database(backend) as db:
            result = run(db, args.items, args.calls)
        print(
            f"{backend}: {args.items:,} items/agent (x2 agents), filled in {result['fill_s']:.1f} s; "
            f"remember p50 {result['remember_p50_ms']:.2f} ms p99 {result['remember_p99_ms']:.2f} ms; "
            f"recall p50 {result['recall_p50_ms']:.2f} ms p99 {result['recall_p99_ms']:.2f} ms "
            f"({result['hits_per_recall']:.1f} hits each)"
        )


if __name__ == "__main__":
    main()
