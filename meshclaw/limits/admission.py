"""The admission decision before a model call, and its settlement after.

Callers (the gateway, the agent runtime) do exactly this around every upstream call:

    ticket = limiter.admit(subject, reserve_tokens=..., reserve_cost_microusd=..., now=now)  # may raise
    try:
        ... call the model ...
    finally:
        ticket.settle(tokens=actual_tokens, cost_microusd=actual_cost, now=now)  # exactly once, 0 on failure

`admit` is synchronous and touches only memory (no I/O on the request path). `now` is a timezone-aware
datetime (the caller's clock reading when the call starts; `AppContext.clock.now()`). It reserves the request's
worst case (tokens and cost) against every limit that applies to the subject, under one lock, so
concurrent requests cannot together overshoot a hard limit; `settle` replaces the reservation with what
was really used and releases the concurrency slot. A refusal raises `LimitExceeded` and reserves nothing.

What is enforced (rules come from the `budgets` table, see `meshclaw.limits.rules`):

- hard budgets in USD or tokens per UTC day, week (from Monday) or month: refused when the spend so far
  plus what calls in flight reserved plus this call's reservation would pass the amount (or the budget is
  already used up); resets at the start of the next UTC period;
- soft budgets: never refuse; the first settle that brings the period's spend to the amount records one
  alert (see `meshclaw.limits.alerts`);
- requests and tokens per minute, over a sliding 60-second window (tokens are reserved, then replaced by
  the real count at settle); concurrent requests, released by settle.

Cost per call is a few dictionary lookups and counter updates per applicable limit; a subject with no
limits costs one lookup per id. The spend counters start from the usage rollups and are reloaded with the
budgets every 10 s by `meshclaw.limits.sync` (started by `Limiter.start()` when given a database).

Interface additions beyond the original contract (all optional, so existing callers are unaffected):
`Limiter(db, clock=, refresh_s=, alert_sinks=)`, `start()`/`close()` (the app's lifespan), `reload()`
(after a budget change in this process), `replace(snapshot, now=)` (load rules and spend directly, for
tests and tools), `LimitExceeded.unit` and `LimitExceeded.enforcement` (what kind of limit refused).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from meshclaw.limits.alerts import AlertSink, LogAlertSink, SoftAlert
from meshclaw.limits.counters import CounterKey, InFlight, MinuteWindow, PeriodCounter, SubjectLimits
from meshclaw.limits.rules import Rule, Unit, describe

if TYPE_CHECKING:
    from meshclaw.clock import Clock
    from meshclaw.db.engine import Database
    from meshclaw.limits.sync import LimitsSync


@dataclass(frozen=True, slots=True, kw_only=True)
class Subject:
    """Whom a model call is charged to. Every non-None id has its own budgets and limits."""

    api_key_id: int | None = None
    user_id: int | None = None
    team_id: int | None = None
    agent_id: int | None = None


class LimitExceeded(Exception):
    """A hard budget or a rate limit refuses the call. `message` names the limit and when it resets."""

    def __init__(
        self,
        *,
        limit: str,
        scope: str,
        reset_at: datetime,
        now: datetime,
        unit: Unit | None = None,
        rate_limit: bool = False,
    ) -> None:
        self.limit = limit
        """What was exceeded, e.g. "hard budget of 5.00 USD per day" or "60 requests per minute"."""
        self.scope = scope
        """Whose limit, e.g. "user alice@example.org", "team Platform", "API key 'ci'", "agent triage"."""
        self.reset_at = reset_at
        self.retry_after_s = max(1, int((reset_at - now).total_seconds() + 0.999))
        self.unit = unit
        """usd, tokens, requests or concurrent (None when raised by older callers)."""
        self.rate_limit = rate_limit
        """True for per-minute and concurrency limits, False for budgets (a gateway may word them apart)."""
        super().__init__(self.message)

    @property
    def message(self) -> str:
        reset = self.reset_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{self.scope}: {self.limit} reached; resets at {reset} (in {self.retry_after_s} s)"


@dataclass(kw_only=True)
class Snapshot:
    """Everything the limiter loads from the database: the rules, the spend of the current periods
    (from the usage rollups), and the soft alerts already recorded in them."""

    rules: list[Rule]
    spend: dict[CounterKey, tuple[datetime, int]] = field(default_factory=dict)
    """Counter key -> (start of the period the sum covers, micro-USD or tokens spent in it)."""
    alerted: set[tuple[int, datetime]] = field(default_factory=set)
    """(budget id, period start) of soft alerts already stored."""


class Ticket:
    """One admitted call's reservation; `settle` it exactly once."""

    __slots__ = ("_cost", "_flights", "_limiter", "_periods", "_settled", "_tokens", "_windows")

    def __init__(
        self,
        limiter: Limiter | None = None,
        periods: list[tuple[PeriodCounter, datetime]] | None = None,
        windows: list[tuple[MinuteWindow, list[float]]] | None = None,
        flights: list[InFlight] | None = None,
        *,
        tokens: int = 0,
        cost: int = 0,
    ) -> None:
        self._settled = False
        self._limiter = limiter
        self._periods = periods
        self._windows = windows
        self._flights = flights
        self._tokens = tokens
        self._cost = cost

    def settle(self, *, tokens: int, cost_microusd: int, now: datetime) -> None:
        if self._settled:
            raise RuntimeError("a ticket is settled exactly once")
        self._settled = True
        if self._limiter is not None:
            self._limiter._settle(self, max(0, tokens), max(0, cost_microusd), now)


class Limiter:
    """Budgets and rate limits for one process (see the module docstring)."""

    def __init__(
        self,
        db: Database | None = None,
        *,
        clock: Clock | None = None,
        refresh_s: float = 10.0,
        alert_sinks: Sequence[AlertSink] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._subjects: dict[tuple[str, int], SubjectLimits] = {}
        self._periods: dict[CounterKey, PeriodCounter] = {}
        self._windows: dict[CounterKey, MinuteWindow] = {}
        self._flights: dict[CounterKey, InFlight] = {}
        self._alerts: list[SoftAlert] = []
        self.alert_sinks: list[AlertSink] = list(alert_sinks) if alert_sinks is not None else [LogAlertSink()]
        self._sync: LimitsSync | None = None
        if db is not None:
            from meshclaw.limits.sync import LimitsSync  # the database side, only when there is one

            self._sync = LimitsSync(self, db, clock=clock, refresh_s=refresh_s)

    # --- the hot path ---------------------------------------------------------------------------

    def admit(
        self, subject: Subject, *, reserve_tokens: int, reserve_cost_microusd: int, now: datetime
    ) -> Ticket:
        subjects = self._subjects
        if not subjects:
            return Ticket()
        found: list[SubjectLimits] = []
        for kind, ident in (
            ("api_key", subject.api_key_id),
            ("user", subject.user_id),
            ("team", subject.team_id),
            ("agent", subject.agent_id),
        ):
            if ident is not None:
                limits = subjects.get((kind, ident))
                if limits is not None:
                    found.append(limits)
        if not found:
            return Ticket()
        tokens = reserve_tokens if reserve_tokens > 0 else 0
        cost = reserve_cost_microusd if reserve_cost_microusd > 0 else 0
        ts = now.timestamp()
        with self._lock:
            # Check everything first, then reserve: a refusal by the last limit must leave no reservation
            # in the first ones.
            for limits in found:
                self._check(limits, tokens, cost, now, ts)
            periods: list[tuple[PeriodCounter, datetime]] = []
            windows: list[tuple[MinuteWindow, list[float]]] = []
            flights: list[InFlight] = []
            for limits in found:
                for counter in limits.periods:
                    counter.reserved += cost if counter.usd else tokens
                    periods.append((counter, counter.start))
                for window in limits.windows:
                    windows.append((window, window.add(ts, 1 if window.per_request else tokens)))
                if limits.in_flight is not None:
                    limits.in_flight.count += 1
                    flights.append(limits.in_flight)
        return Ticket(self, periods, windows, flights, tokens=tokens, cost=cost)

    def _check(self, limits: SubjectLimits, tokens: int, cost: int, now: datetime, ts: float) -> None:
        for counter in limits.periods:
            counter.roll(now)
            hard = counter.hard
            if hard is None:
                continue
            used = counter.spent + counter.reserved
            if used >= hard.amount or used + (cost if counter.usd else tokens) > hard.amount:
                raise _refusal(hard, counter.end, now)
        for window in limits.windows:
            window.expire(ts)
            needed = 1 if window.per_request else tokens
            rule = window.rule
            if window.total >= rule.amount or window.total + needed > rule.amount:
                reset = datetime.fromtimestamp(window.frees_at(ts, needed), UTC)
                raise _refusal(rule, reset, now)
        flight = limits.in_flight
        if flight is not None and flight.count >= flight.rule.amount:
            # No clock says when a slot frees up; a second is a polite retry hint.
            raise _refusal(flight.rule, now + timedelta(seconds=1), now)

    def _settle(self, ticket: Ticket, tokens: int, cost: int, now: datetime) -> None:
        with self._lock:
            for counter, start in ticket._periods or ():
                if (
                    counter.start != start
                ):  # the period rolled over meanwhile; this call belongs to the old one
                    continue
                usd = counter.usd
                counter.reserved -= ticket._cost if usd else ticket._tokens
                counter.spent += cost if usd else tokens
                if counter.soft_crossed():
                    self._alert(counter, now)
            for window, entry in ticket._windows or ():
                if not window.per_request:
                    window.replace(entry, tokens)
            for flight in ticket._flights or ():
                flight.count -= 1

    def _alert(self, counter: PeriodCounter, now: datetime) -> None:
        assert counter.soft is not None
        counter.soft_alerted = True
        self._alerts.append(
            SoftAlert(rule=counter.soft, period_start=counter.start, spent=counter.spent, noticed_at=now)
        )
        if self._sync is not None:
            self._sync.wake()

    # --- loading ----------------------------------------------------------------------------------

    def replace(self, snapshot: Snapshot, *, now: datetime) -> None:
        """Install a new set of rules, keeping the state of every counter that still exists.

        Counters are keyed by (subject, unit, period), so a changed amount keeps its spend, reservations
        and in-flight calls; the database's spend is taken where it is higher than what this process
        counted (it includes other processes and usage reported over OpenTelemetry; ours may include
        calls not committed yet).
        """
        with self._lock:
            subjects: dict[tuple[str, int], SubjectLimits] = {}
            periods: dict[CounterKey, PeriodCounter] = {}
            windows: dict[CounterKey, MinuteWindow] = {}
            flights: dict[CounterKey, InFlight] = {}
            for rule in snapshot.rules:
                key: CounterKey = (rule.subject_type, rule.subject_id, rule.unit, rule.period)
                limits = subjects.setdefault((rule.subject_type, rule.subject_id), SubjectLimits())
                if rule.period in ("day", "week", "month"):
                    counter = periods.get(key) or self._periods.get(key)
                    if counter is None:
                        counter = PeriodCounter(key, rule.period, now)
                    if key not in periods:
                        periods[key] = counter
                        counter.hard = counter.soft = None
                        limits.periods.append(counter)
                    if rule.enforcement == "hard":
                        counter.hard = rule
                    else:
                        counter.soft = rule
                elif rule.period == "minute":
                    window = self._windows.get(key) or MinuteWindow(key, rule)
                    window.rule = rule
                    windows[key] = window
                    limits.windows.append(window)
                else:
                    flight = self._flights.get(key) or InFlight(key, rule)
                    flight.rule = rule
                    flights[key] = flight
                    limits.in_flight = flight
            for key, counter in periods.items():
                counter.roll(now)
                loaded = snapshot.spend.get(key)
                if loaded is not None and loaded[0] == counter.start:
                    counter.spent = max(counter.spent, loaded[1])
                if counter.soft is not None and (counter.soft.id, counter.start) in snapshot.alerted:
                    counter.soft_alerted = True
                if counter.soft_crossed():
                    self._alert(counter, now)
            self._subjects, self._periods, self._windows, self._flights = subjects, periods, windows, flights

    def take_alerts(self) -> list[SoftAlert]:
        with self._lock:
            alerts, self._alerts = self._alerts, []
            return alerts

    def return_alerts(self, alerts: list[SoftAlert]) -> None:
        """Alerts that could not be stored yet (the database is away); they are retried."""
        with self._lock:
            self._alerts[:0] = alerts

    def counter_keys(self) -> list[CounterKey]:
        """The (subject, unit, period) of every budget counter, so a loader knows which spend to sum."""
        with self._lock:
            return list(self._periods)

    # --- lifecycle (with a database) --------------------------------------------------------------

    def start(self) -> None:
        """Load budgets and spend, then keep them current in the background (every `refresh_s`)."""
        if self._sync is not None:
            self._sync.start()

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()

    def reload(self) -> None:
        """Reload budgets and spend now (after this process changed a budget); blocking, off the hot path."""
        if self._sync is not None:
            self._sync.reload()


def _refusal(rule: Rule, reset_at: datetime, now: datetime) -> LimitExceeded:
    return LimitExceeded(
        limit=describe(rule.unit, rule.period, rule.amount, enforcement=rule.enforcement),
        scope=rule.scope,
        reset_at=reset_at,
        now=now,
        unit=rule.unit,
        rate_limit=rule.period in ("minute", ""),
    )
