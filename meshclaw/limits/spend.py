"""Spend so far in the current UTC day, week and month, read from the database when the limiter starts
and reloads (never on the request path).

Users, teams and agents are summed from the day-level usage rollups (a call counts in the period it
started, with the team it was stamped with), one query per subject type whatever the number of budgets.
API keys are not a rollup dimension, so their spend is summed from the usage events of the key's owner
(the per-user index keeps that to the owner's calls of the period). Tokens are the sum of the five
exclusive buckets; cost is micro-USD.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from meshclaw.db.models import ApiKey, UsageEventRow, UsageRollup
from meshclaw.limits.counters import CounterKey
from meshclaw.limits.periods import CalendarPeriod, period_bounds

_PERIODS: tuple[CalendarPeriod, ...] = ("day", "week", "month")


def _tokens(table: Any) -> ColumnElement[int]:
    return table.input_uncached + table.cache_read + table.cache_write + table.output + table.reasoning  # type: ignore[no-any-return]


def _sums(moment: Any, cost: Any, tokens: Any, starts: dict[CalendarPeriod, datetime]) -> list[Any]:
    """Cost and tokens per period in one pass: SUM(CASE WHEN started in the period THEN x ELSE 0 END)."""
    columns = []
    for period in _PERIODS:
        columns.append(func.sum(case((moment >= starts[period], cost), else_=0)))
        columns.append(func.sum(case((moment >= starts[period], tokens), else_=0)))
    return columns


def load_spend(
    session: Session, keys: Iterable[CounterKey], now: datetime
) -> dict[CounterKey, tuple[datetime, int]]:
    """Spend of each budget counter in its period containing `now`: key -> (period start, amount)."""
    starts = {period: period_bounds(period, now)[0] for period in _PERIODS}
    since = min(starts.values())
    wanted: dict[str, set[int]] = {}
    for subject_type, subject_id, _unit, period in keys:
        if period in _PERIODS:
            wanted.setdefault(subject_type, set()).add(subject_id)
    found: dict[tuple[str, int], list[int]] = {}
    dimension = {"user": UsageRollup.user_id, "team": UsageRollup.team_id, "agent": UsageRollup.agent_id}
    for kind, column in dimension.items():
        ids = wanted.get(kind)
        if not ids:
            continue
        query = (
            select(
                column,
                *_sums(UsageRollup.bucket_start, UsageRollup.cost_microusd, _tokens(UsageRollup), starts),
            )
            .where(UsageRollup.bucket == "day", UsageRollup.bucket_start >= since, column.in_(ids))
            .group_by(column)
        )
        for ident, *values in session.execute(query):
            found[(kind, ident)] = [int(v or 0) for v in values]
    key_ids = wanted.get("api_key")
    if key_ids:
        owners = [
            owner
            for owner in session.scalars(select(ApiKey.owner_user_id).where(ApiKey.id.in_(key_ids)))
            if owner is not None
        ]
        query = (
            select(
                UsageEventRow.api_key_id,
                *_sums(UsageEventRow.started_at, UsageEventRow.cost_microusd, _tokens(UsageEventRow), starts),
            )
            .where(
                UsageEventRow.user_id.in_(owners),
                UsageEventRow.started_at >= since,
                UsageEventRow.api_key_id.in_(key_ids),
            )
            .group_by(UsageEventRow.api_key_id)
        )
        for ident, *sums in session.execute(query):
            found[("api_key", ident)] = [int(v or 0) for v in sums]
    spend: dict[CounterKey, tuple[datetime, int]] = {}
    for key in keys:
        subject_type, subject_id, unit, period = key
        if period not in _PERIODS:
            continue
        totals = found.get((subject_type, subject_id))
        index = _PERIODS.index(period) * 2 + (0 if unit == "usd" else 1)
        spend[key] = (starts[period], totals[index] if totals else 0)
    return spend
