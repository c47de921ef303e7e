"""The in-memory counters behind admission, one per limit a subject has; all mutated under the
`Limiter`'s lock.

- `PeriodCounter`: spend in the current UTC day, week or month (USD or tokens): settled `spent` plus
  `reserved` for calls in flight. It carries the hard and the soft amount of that subject, unit and period
  together, since both watch the same spend.
- `MinuteWindow`: a sliding 60-second log of (time, amount) entries, for requests and tokens per minute.
  A sliding log, not fixed minute buckets, so no 60 seconds ever hold more than the limit (fixed buckets
  let twice the limit through across a boundary). Each entry is appended once and expired once, so the
  cost per call stays constant; memory is one entry per call in the last minute.
- `InFlight`: calls admitted and not yet settled, for concurrency limits.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from meshclaw.limits.periods import CalendarPeriod, period_bounds
from meshclaw.limits.rules import Rule, SubjectType, Unit

WINDOW_S = 60.0

CounterKey = tuple[SubjectType, int, Unit, str]
"""(subject type, subject id, unit, period): one counter per key, shared by its hard and soft rule."""


class PeriodCounter:
    __slots__ = ("end", "hard", "key", "period", "reserved", "soft", "soft_alerted", "spent", "start", "usd")

    def __init__(self, key: CounterKey, period: CalendarPeriod, now: datetime) -> None:
        self.key = key
        self.usd = key[2] == "usd"
        """Counts cost (micro-USD) rather than tokens; decided once, read on every call."""
        self.period: CalendarPeriod = period
        self.start, self.end = period_bounds(period, now)
        self.spent = 0
        self.reserved = 0
        self.hard: Rule | None = None
        self.soft: Rule | None = None
        self.soft_alerted = False

    def roll(self, now: datetime) -> None:
        """Start the new period once `now` has left the current one. Reservations of calls admitted in
        the old period are dropped with it: their spend belongs to the old period (rollups count a call
        in the period it started), and their tickets see the changed `start` and leave this one alone.

        Only forward: a call that took its `now` just before midnight but reaches the lock just after
        another call rolled the counter is charged to the new period, rather than rolling it back (which
        would wipe the new period's spend)."""
        if now < self.end:
            return
        self.start, self.end = period_bounds(self.period, now)
        self.spent = 0
        self.reserved = 0
        self.soft_alerted = False

    def soft_crossed(self) -> bool:
        return self.soft is not None and not self.soft_alerted and self.spent >= self.soft.amount


class MinuteWindow:
    __slots__ = ("entries", "key", "per_request", "rule", "total")

    def __init__(self, key: CounterKey, rule: Rule) -> None:
        self.key = key
        self.per_request = key[2] == "requests"
        """Counts requests (1 each, never changed by settle) rather than tokens."""
        self.rule = rule
        self.entries: deque[list[float]] = deque()
        """[timestamp, amount]; a timestamp of -1 marks an entry already expired."""
        self.total = 0.0

    def expire(self, ts: float) -> None:
        horizon = ts - WINDOW_S
        entries = self.entries
        while entries and entries[0][0] <= horizon:
            entry = entries.popleft()
            self.total -= entry[1]
            entry[0] = -1.0

    def add(self, ts: float, amount: int) -> list[float]:
        entry = [ts, float(amount)]
        self.entries.append(entry)
        self.total += amount
        return entry

    def replace(self, entry: list[float], amount: int) -> None:
        """Settle a tokens entry: the reservation becomes what was really used (if still in the window)."""
        if entry[0] < 0:
            return
        self.total += amount - entry[1]
        entry[1] = float(amount)

    def frees_at(self, ts: float, needed: float) -> float:
        """When enough entries will have left the window for `needed` more to fit (the refusal's reset)."""
        limit = self.rule.amount
        excess = self.total + needed - limit
        for entry_ts, amount in self.entries:
            excess -= amount
            if excess <= 0:
                return entry_ts + WINDOW_S
        return ts + WINDOW_S


@dataclass(slots=True)
class InFlight:
    key: CounterKey
    rule: Rule
    count: int = 0


@dataclass(slots=True)
class SubjectLimits:
    """Every counter of one subject (an API key, a user, a team or an agent)."""

    periods: list[PeriodCounter] = field(default_factory=list)
    windows: list[MinuteWindow] = field(default_factory=list)
    in_flight: InFlight | None = None
