"""Month-end forecast: what the month will cost and burn if the recent daily pace goes on.

forecast = the month's full days so far + (the mean of the last `PACE_DAYS` full days) x the days left,
today included (today's partial numbers are replaced by the pace rather than extrapolated from a few
hours). Early in a month the pace window reaches back into the previous month, so day 1 has a forecast
too. All from the daily rollups.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meshclaw.clarity.costs import everyone_totals
from meshclaw.clarity.measures import effective_tokens, total_tokens
from meshclaw.clarity.ranges import DateRange
from meshclaw.db.models import UsageRollup
from meshclaw.metering.queries import Scope, scope_clause

PACE_DAYS = 7


@dataclass(frozen=True, kw_only=True)
class Forecast:
    month_start: date
    month_end: date
    """The last day of the month."""
    as_of: date
    days_elapsed: int
    """Full days of the month before `as_of`."""
    days_left: int
    """`as_of` and the days after it."""
    month_to_date_cost_microusd: int
    """The month so far, today's partial numbers included."""
    month_to_date_tokens: int
    pace_cost_microusd_per_day: float
    pace_tokens_per_day: float
    pace_effective_tokens_per_day: float
    forecast_cost_microusd: int
    forecast_tokens: int


def _sums(session: Session, scope: Scope, window: DateRange, team_id: int | None) -> tuple[int, int, float]:
    if scope.everyone and team_id is None:
        return everyone_totals(session, window)
    r = UsageRollup
    where = [
        r.bucket == "day",
        r.bucket_start >= window.start,
        r.bucket_start < window.end,
        scope_clause(scope, r.user_id, r.team_id),
    ]
    if team_id is not None:
        where.append(r.team_id == team_id)
    cost, tokens, effective = session.execute(
        select(func.sum(r.cost_microusd), total_tokens(), effective_tokens()).where(*where)
    ).one()
    return int(cost or 0), int(tokens or 0), float(effective or 0.0)


def month_forecast(session: Session, scope: Scope, *, as_of: date, team_id: int | None = None) -> Forecast:
    month_start = as_of.replace(day=1)
    days_in_month = calendar.monthrange(as_of.year, as_of.month)[1]
    month_end = month_start + timedelta(days=days_in_month - 1)
    elapsed = (as_of - month_start).days
    full_cost, full_tokens, _ = (
        _sums(session, scope, DateRange(since=month_start, until=as_of), team_id) if elapsed else (0, 0, 0.0)
    )
    today_cost, today_tokens, _ = _sums(
        session, scope, DateRange(since=as_of, until=as_of + timedelta(days=1)), team_id
    )
    pace_cost, pace_tokens, pace_effective = _sums(
        session, scope, DateRange(since=as_of - timedelta(days=PACE_DAYS), until=as_of), team_id
    )
    days_left = days_in_month - elapsed
    return Forecast(
        month_start=month_start,
        month_end=month_end,
        as_of=as_of,
        days_elapsed=elapsed,
        days_left=days_left,
        month_to_date_cost_microusd=full_cost + today_cost,
        month_to_date_tokens=full_tokens + today_tokens,
        pace_cost_microusd_per_day=pace_cost / PACE_DAYS,
        pace_tokens_per_day=pace_tokens / PACE_DAYS,
        pace_effective_tokens_per_day=round(pace_effective / PACE_DAYS, 1),
        forecast_cost_microusd=round(full_cost + pace_cost / PACE_DAYS * days_left),
        forecast_tokens=round(full_tokens + pace_tokens / PACE_DAYS * days_left),
    )
