"""Time, in one place, so tests can move it and every timestamp is timezone-aware UTC."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Clock(Protocol):
    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real clock: aware UTC datetimes and a monotonic counter for durations."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FrozenClock:
    """A clock that only moves when told to; for tests of expiry, windows and rate limits."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._mono += seconds


def time_zone(name: str) -> ZoneInfo | None:
    """The IANA time zone `name` names, or None: unknown, malformed (a NUL, `..`) or too long for a file
    name (ZoneInfo looks names up as files, and a 5,000-character one raised OSError where callers
    expected ValueError: a 500)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
