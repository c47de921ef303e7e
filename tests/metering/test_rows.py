"""`rows.sqlite_time`, assembled from cached pieces for speed, gives exactly the text SQLAlchemy's DateTime
stores on SQLite (what `isoformat` gives for the UTC time, without its offset)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from meshclaw.metering.rows import sqlite_time


def _reference(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")[:26]


def test_sqlite_time_matches_isoformat_on_random_times_and_zones() -> None:
    rng = random.Random(5)
    zones = [
        UTC,
        timezone(timedelta(hours=5, minutes=30)),
        timezone(timedelta(hours=-8)),
        ZoneInfo("Europe/Paris"),
    ]
    start = datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)
    for _ in range(20_000):
        value = start + timedelta(microseconds=rng.randrange(0, 40 * 365 * 86_400 * 10**6))
        if rng.random() < 0.2:
            value = value.replace(microsecond=0)  # isoformat with timespec still writes ".000000"
        value = value.astimezone(rng.choice(zones))
        assert sqlite_time(value) == _reference(value), value


def test_sqlite_time_edges() -> None:
    for value in (
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2026, 3, 29, 2, 30, 0, 5, tzinfo=ZoneInfo("America/New_York")),
        datetime(2026, 6, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),  # the previous UTC day
    ):
        assert sqlite_time(value) == _reference(value)
    assert sqlite_time(datetime(2026, 6, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))) == (
        "2026-05-31 23:30:00.000000"
    )
