"""Usage totals and breakdowns, read from the hourly and daily rollups only.

Dashboards must not scan raw events (there may be hundreds of millions), so every summary sums rollup
rows. The price of that is resolution: a window is widened to whole buckets of the chosen period, i.e.
`since` is rounded down to the start of its hour or day and `until` up to the end of its hour or day
(UTC). The summary reports the window it really covered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from meshclaw.db.models import UsageRollup
from meshclaw.metering.events import BUCKETS
from meshclaw.metering.labels import GroupKey, group_labels
from meshclaw.metering.queries import Dimension, Period, Scope, UsageFilters, scope_clause

_MEASURES = ("requests", "errors", *BUCKETS, "cost_microusd")
_DIMENSION_COLUMN = {
    "user": "user_id",
    "team": "team_id",
    "agent": "agent_id",
    "model": "model",
    "client": "client",
    "source": "source",
}
_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


@dataclass(frozen=True, kw_only=True)
class Measures:
    requests: int = 0
    errors: int = 0
    input_uncached: int = 0
    cache_read: int = 0
    cache_write: int = 0
    output: int = 0
    reasoning: int = 0
    cost_microusd: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_uncached + self.cache_read + self.cache_write + self.output + self.reasoning

    @property
    def cost_usd(self) -> float:
        return round(self.cost_microusd / 1_000_000, 6)

    def __add__(self, other: Measures) -> Measures:
        return Measures(**{name: getattr(self, name) + getattr(other, name) for name in _MEASURES})


@dataclass(frozen=True, kw_only=True)
class Group:
    key: GroupKey
    """The user, team or agent id, or the model, client or source name; None for "none recorded"."""
    label: str | None
    """What to show: a user's email, a team's name, otherwise the key itself."""
    period_start: datetime | None
    """Set when the summary is a series (one row per group and period)."""
    measures: Measures


@dataclass(frozen=True, kw_only=True)
class Summary:
    group_by: Dimension | None
    period: Period
    series: bool
    since: datetime | None
    """The start of the window actually summed (rounded down to a bucket start)."""
    until: datetime | None
    """The end of the window actually summed (exclusive, rounded up to a bucket end)."""
    groups: list[Group]
    totals: Measures


def floor_to(moment: datetime, period: Period) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if period == "day" else moment


def ceil_to(moment: datetime, period: Period) -> datetime:
    start = floor_to(moment, period)
    return start if start == moment else start + _STEP[period]


def _rollup_filter(
    scope: Scope, filters: UsageFilters, period: Period
) -> tuple[ColumnElement[bool], datetime | None, datetime | None]:
    r = UsageRollup
    since = floor_to(filters.since, period) if filters.since else None
    until = ceil_to(filters.until, period) if filters.until else None
    clauses = [r.bucket == period, scope_clause(scope, r.user_id, r.team_id)]
    if since is not None:
        clauses.append(r.bucket_start >= since)
    if until is not None:
        clauses.append(r.bucket_start < until)
    # Rollups store 0 and '' for "none", so a filter on a real id or name never matches those rows.
    if filters.user_id is not None:
        clauses.append(r.user_id == filters.user_id)
    if filters.team_id is not None:
        clauses.append(r.team_id == filters.team_id)
    if filters.agent_id is not None:
        clauses.append(r.agent_id == filters.agent_id)
    if filters.source is not None:
        clauses.append(r.source == filters.source)
    if filters.model is not None:
        clauses.append(r.model == filters.model)
    return and_(*clauses), since, until


def _key(dimension: Dimension, value: Any) -> GroupKey:
    if dimension in ("user", "team", "agent"):
        return int(value) or None
    return str(value) or None


def summarize(
    session: Session,
    scope: Scope,
    filters: UsageFilters,
    *,
    group_by: Dimension | None,
    period: Period = "day",
    series: bool = False,
) -> Summary:
    """Per group (and per period when `series`): requests, errors, the token buckets and cost.

    Groups come most expensive first (then most requests); a series is in time order.
    """
    r = UsageRollup
    where, since, until = _rollup_filter(scope, filters, period)
    keys: list[Any] = []
    if group_by is not None:
        keys.append(getattr(r, _DIMENSION_COLUMN[group_by]))
    if series:
        keys.append(r.bucket_start)
    sums = [func.sum(getattr(r, name)) for name in _MEASURES]
    query = select(*keys, *sums).where(where)
    if keys:
        query = query.group_by(*keys)
    groups: list[Group] = []
    totals = Measures()
    for row in session.execute(query).all():
        values = row[len(keys) :]
        if values[0] is None:  # no rows at all: SUM over nothing
            continue
        # PostgreSQL sums BIGINT into NUMERIC; int() brings it back.
        measures = Measures(**{name: int(value) for name, value in zip(_MEASURES, values, strict=True)})
        key = _key(group_by, row[0]) if group_by is not None else None
        period_start = row[len(keys) - 1] if series else None
        groups.append(Group(key=key, label=None, period_start=period_start, measures=measures))
        totals = totals + measures
    if group_by is not None:
        labels = group_labels(session, group_by, {group.key for group in groups})
        groups = [
            Group(key=g.key, label=labels.get(g.key), period_start=g.period_start, measures=g.measures)
            for g in groups
        ]
    groups.sort(key=lambda g: (-g.measures.cost_microusd, -g.measures.requests, str(g.key)))
    if series:
        groups.sort(key=lambda g: g.period_start or datetime.min.replace(tzinfo=UTC))
    return Summary(
        group_by=group_by,
        period=period,
        series=series,
        since=since,
        until=until,
        groups=groups,
        totals=totals,
    )
