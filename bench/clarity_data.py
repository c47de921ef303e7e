"""A year of an organization's AI use at dashboard scale, written in bulk SQL: ~10 million usage events
for 5,000 people in a four-level team tree, with outcomes and activity events.

The simulator (`meshclaw simulate`) goes through the real ingestion paths and is far too slow for this
(25 minutes for 1.2 million events), so this module plans each person's days in Python (who works
which day, how many calls, with which model and app) and lets SQLite expand the plan into events with
`INSERT ... SELECT` over a sequence table. Variety inside a day (times, token counts, errors, accepted
edits) comes from integer hashes of the plan row and the call number, so the same seed always builds
the same database. Rollups are then built by `meshclaw.metering.rollup_rebuild` (the bulk twin of the
writer, proven identical by the test suite) and Clarity's precomputed tables by its own refresh.

People: 15% never use AI, 25% light (a day a week or so), 40% moderate, 20% heavy; one in twenty owns an
agent that runs every day, at any hour, as automation.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

FIRST_DAY = date(2025, 12, 1)
DAYS = 365
LAST_DAY = FIRST_DAY + timedelta(days=DAYS - 1)
"""2026-11-30; the year of data ends the day before the machine's calendar met the benchmark."""

MODELS = (
    ("claude-sonnet-4-5", "anthropic", 3, 15),
    ("gpt-4o", "openai", 3, 10),
    ("claude-opus-4-1", "anthropic", 15, 75),
    ("gpt-4o-mini", "openai", 1, 4),
    ("gemini-2.5-flash", "google", 1, 3),
    ("o3", "openai", 2, 8),
)
"""name, provider, USD per million input and output tokens."""
CLIENTS = (("claude-code", "otlp"), ("cursor", "import"), ("openai-python", "gateway"), ("vscode", "gateway"))
PERSONAS = (
    ("non_user", 0.15, 0.0, 0),
    ("light", 0.25, 0.22, 6),
    ("moderate", 0.40, 0.55, 11),
    ("heavy", 0.20, 0.9, 24),
)
"""name, share of people, chance of use on a working day, mean calls on such a day."""
AGENT_CALLS = 12


@dataclass(frozen=True, kw_only=True)
class Built:
    people: int
    teams: int
    usage_events: int
    outcome_events: int
    activity_events: int
    admin_email: str
    admin_password: str


ADMIN_EMAIL = "admin@bench.example"
ADMIN_PASSWORD = "bench-admin-password-1"  # noqa: S105  (a throwaway local benchmark account)


def _teams(db: sqlite3.Connection, org_id: int, now: str) -> list[int]:
    """Company > 8 divisions > 6 departments > 6 teams: 288 leaf teams, ~17 people each."""

    def add(name: str, parent: int | None) -> int:
        cursor = db.execute(
            "INSERT INTO teams (org_id, name, parent_id, created_at) VALUES (?, ?, ?, ?)",
            (org_id, name, parent, now),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    leaves: list[int] = []
    root = add("Company", None)
    for d in range(8):
        division = add(f"Division {d + 1}", root)
        for p in range(6):
            department = add(f"Department {d + 1}.{p + 1}", division)
            leaves.extend(add(f"Team {d + 1}.{p + 1}.{t + 1}", department) for t in range(6))
    return leaves


def _people(
    db: sqlite3.Connection, org_id: int, leaves: list[int], people: int, now: str
) -> list[tuple[int, int]]:
    """(user id, team id) of everyone; the first person of each team is its manager."""
    rows = []
    for index in range(people):
        team = leaves[index % len(leaves)]
        role = "manager" if index < len(leaves) else "member"
        rows.append((org_id, f"p{index + 1:05d}@bench.example", f"Person {index + 1}", role, team, now))
    db.executemany(
        "INSERT INTO users (org_id, email, name, role, team_id, active, created_at) VALUES (?, ?, ?, ?, ?, 1, ?)",
        rows,
    )
    return [
        (user_id, team_id)
        for user_id, team_id in db.execute(
            "SELECT id, team_id FROM users WHERE email LIKE 'p%@bench.example' ORDER BY id"
        )
    ]


def _plan(db: sqlite3.Connection, staff: list[tuple[int, int]], seed: int) -> None:
    """One row per person, day and (model, app, initiator): how many calls. Agents are ids 1..N."""
    rng = random.Random(seed)  # noqa: S311  (a reproducible plan, not a secret)
    db.execute(
        "CREATE TEMP TABLE plan (id INTEGER PRIMARY KEY, day INTEGER, user_id INTEGER, team_id INTEGER,"
        " agent_id INTEGER, model INTEGER, client INTEGER, automation INTEGER, calls INTEGER, repeats INTEGER)"
    )
    rows: list[tuple[int, ...]] = []
    agent = 0
    for user_id, team_id in staff:
        roll, persona = rng.random(), PERSONAS[-1]
        for candidate in PERSONAS:
            if roll < candidate[1]:
                persona = candidate
                break
            roll -= candidate[1]
        _, _, chance, mean = persona
        models = rng.sample(range(len(MODELS)), 2)
        clients = rng.sample(range(len(CLIENTS)), 2)
        repeats = int(rng.random() < 0.03)  # a few prompt repeaters for the detector
        owned = 0
        if mean and rng.random() < 0.05:
            agent += 1
            owned = agent
        for day in range(DAYS):
            weekday = (FIRST_DAY + timedelta(days=day)).weekday()
            if weekday < 5 and chance and rng.random() < chance:
                calls = max(1, int(rng.expovariate(1 / mean)))
                first = max(1, int(calls * 0.7))
                rows.append((day, user_id, team_id, 0, models[0], clients[0], 0, first, repeats))
                if calls > first:
                    rows.append((day, user_id, team_id, 0, models[1], clients[1], 0, calls - first, repeats))
            if owned:
                rows.append((day, user_id, team_id, owned, models[0], 2, 1, AGENT_CALLS, 0))
    db.executemany(
        "INSERT INTO plan (day, user_id, team_id, agent_id, model, client, automation, calls, repeats)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _lookups(db: sqlite3.Connection) -> None:
    db.execute("CREATE TEMP TABLE seq (n INTEGER PRIMARY KEY)")
    db.execute(
        "WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < 999) INSERT INTO seq SELECT n FROM s"
    )
    db.execute(
        "CREATE TEMP TABLE models (i INTEGER PRIMARY KEY, name TEXT, provider TEXT, price_in INTEGER, price_out INTEGER)"
    )
    db.executemany("INSERT INTO models VALUES (?, ?, ?, ?, ?)", [(i, *m) for i, m in enumerate(MODELS)])
    db.execute("CREATE TEMP TABLE clients (i INTEGER PRIMARY KEY, name TEXT, source TEXT)")
    db.executemany("INSERT INTO clients VALUES (?, ?, ?)", [(i, *c) for i, c in enumerate(CLIENTS)])


_EPOCH = int(datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, tzinfo=UTC).timestamp())
# h: a hash of (plan row, call number) in [0, 1,000,003); the second-of-day is people's working hours
# 08:00-19:00 for human calls and any time for automation.
_HASH = "((p.id * 2654435761 + s.n * 40503 + 12345) % 1000003)"
_SECOND = f"({_EPOCH} + p.day * 86400 + CASE WHEN p.automation = 1 THEN {_HASH} % 86400 ELSE 28800 + {_HASH} % 39600 END)"


def _usage(db: sqlite3.Connection) -> None:
    started = f"strftime('%Y-%m-%d %H:%M:%S', {_SECOND}, 'unixepoch') || '.000000'"
    ended = f"strftime('%Y-%m-%d %H:%M:%S', {_SECOND} + 2 + {_HASH} % 20, 'unixepoch') || '.000000'"
    db.execute(f"""
        INSERT INTO usage_events (event_id, source, started_at, ended_at, latency_ms, status, error, provider,
            operation, requested_model, model, input_uncached, cache_read, cache_write, output, reasoning,
            cost_microusd, user_id, team_id, agent_id, client, initiator, prompt_hash, session_id)
        SELECT printf('b%08d%04d', p.id, s.n),
            CASE WHEN p.automation = 1 THEN 'agent' ELSE c.source END,
            {started}, {ended}, 2000 + {_HASH} % 20000,
            CASE WHEN {_HASH} % 50 = 0 THEN 'error' ELSE 'ok' END,
            NULL, m.provider, 'chat', m.name, m.name,
            500 + {_HASH} % 3000, ({_HASH} / 7) % 20000, ({_HASH} / 11) % 2000, 100 + ({_HASH} / 13) % 1500,
            CASE WHEN m.name = 'o3' THEN ({_HASH} / 17) % 3000 ELSE 0 END,
            (500 + {_HASH} % 3000) * m.price_in + (({_HASH} / 7) % 20000) * m.price_in / 10
                + (({_HASH} / 11) % 2000) * m.price_in * 5 / 4 + (100 + ({_HASH} / 13) % 1500) * m.price_out,
            p.user_id, p.team_id, NULLIF(p.agent_id, 0), c.name,
            CASE WHEN p.automation = 1 THEN 'automation' ELSE 'human' END,
            CASE WHEN p.repeats = 1 THEN printf('%032x', p.user_id * 7 + s.n % 3)
                 ELSE printf('%016x%016x', p.id, s.n) END,
            CASE WHEN p.automation = 1 THEN NULL ELSE printf('s%d-%d', p.user_id, p.day) END
        FROM plan p JOIN seq s ON s.n < p.calls JOIN models m ON m.i = p.model JOIN clients c ON c.i = p.client
        ORDER BY p.id, s.n
    """)  # noqa: S608


_OUTCOME_TYPES = (
    ("commit.created", "1"),
    ("code_edit.decided", "1"),
    ("lines_of_code.added", f"10 + {_HASH} % 190"),
    ("code_edit.decided", "1"),
    ("pull_request.created", "1"),
    ("code_edit.decided", "1"),
)


def _outcomes(db: sqlite3.Connection) -> None:
    """About one outcome per three calls: commits, edit decisions (85% accepted), lines, pull requests."""
    kinds = " ".join(f"WHEN {i} THEN '{kind}'" for i, (kind, _) in enumerate(_OUTCOME_TYPES))
    quantities = " ".join(f"WHEN {i} THEN {q}" for i, (_, q) in enumerate(_OUTCOME_TYPES))
    occurred = f"strftime('%Y-%m-%d %H:%M:%S', {_SECOND} + 30, 'unixepoch') || '.000000'"
    db.execute(f"""
        INSERT INTO outcome_events (event_id, type, occurred_at, source, quantity, accepted, minutes_saved,
            user_id, team_id, agent_id, client, session_id)
        SELECT printf('o%08d%04d', p.id, s.n), CASE s.n % 6 {kinds} END, {occurred},
            CASE WHEN p.automation = 1 THEN 'agent' ELSE c.source END, CASE s.n % 6 {quantities} END,
            CASE WHEN s.n % 6 IN (1, 3, 5) THEN ({_HASH} % 100 < 85) ELSE NULL END, NULL,
            p.user_id, p.team_id, NULLIF(p.agent_id, 0), c.name,
            CASE WHEN p.automation = 1 THEN NULL ELSE printf('s%d-%d', p.user_id, p.day) END
        FROM plan p JOIN seq s ON s.n < (p.calls + 2) / 3 JOIN clients c ON c.i = p.client
        ORDER BY p.id, s.n
    """)  # noqa: S608


def _activity(db: sqlite3.Connection) -> None:
    """Claude Code tool results, one per three human calls: reads, edits and shell commands."""
    occurred = f"strftime('%Y-%m-%d %H:%M:%S', {_SECOND} + 5, 'unixepoch') || '.000000'"
    db.execute(f"""
        INSERT INTO activity_events (event_id, name, occurred_at, source, user_id, team_id, agent_id, client,
            session_id, attributes)
        SELECT printf('a%08d%04d', p.id, s.n), 'claude_code.tool_result', {occurred}, 'otlp', p.user_id,
            p.team_id, NULL, 'claude-code', printf('s%d-%d', p.user_id, p.day),
            json_object('tool_name', CASE s.n % 3 WHEN 0 THEN 'Read' WHEN 1 THEN 'Edit' ELSE 'Bash' END,
                        'success', json('true'))
        FROM plan p JOIN seq s ON s.n < p.calls / 3
        WHERE p.automation = 0 AND p.client = 0
        ORDER BY p.id, s.n
    """)  # noqa: S608


_EVENT_INDEXES = (
    "ix_usage_events_started_at", "ix_usage_events_user_started", "ix_usage_events_agent_started",
    "ix_outcome_events_occurred_at", "ix_outcome_events_user_occurred", "ix_outcome_events_agent_occurred",
    "ix_activity_events_user_occurred", "ix_activity_events_session", "ix_activity_events_occurred_at",
)  # fmt: skip


def build_events(path: Path, *, org_id: int, people: int, seed: int, now: datetime) -> Built:
    """Teams, people and a year of events into the migrated SQLite database at `path`.

    Secondary indexes are dropped while rows go in and created again after (one sort each instead of
    ten million random B-tree inserts); their definitions are read back from sqlite_master first.
    """
    stamp = now.isoformat(sep=" ", timespec="microseconds")[:26]
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-1000000")
        db.execute("PRAGMA temp_store=MEMORY")
        db.execute("BEGIN")
        leaves = _teams(db, org_id, stamp)
        staff = _people(db, org_id, leaves, people, stamp)
        _plan(db, staff, seed)
        _lookups(db)
        definitions = [
            sql
            for (sql,) in db.execute(
                f"SELECT sql FROM sqlite_master WHERE type = 'index' AND name IN ({', '.join('?' * len(_EVENT_INDEXES))})",  # noqa: S608
                _EVENT_INDEXES,
            )
        ]
        for name in _EVENT_INDEXES:
            db.execute(f"DROP INDEX IF EXISTS {name}")
        _usage(db)
        _outcomes(db)
        _activity(db)
        for sql in definitions:
            db.execute(sql)
        counts = [db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
                  for table in ("usage_events", "outcome_events", "activity_events")]  # fmt: skip
        db.execute("COMMIT")
    finally:
        db.close()
    return Built(
        people=len(staff),
        teams=len(leaves),
        usage_events=counts[0],
        outcome_events=counts[1],
        activity_events=counts[2],
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
    )
