"""UTC calendar periods: a day starts at 00:00 UTC, a week on Monday 00:00 UTC (ISO weeks), a month on
the 1st at 00:00 UTC. Budgets reset at these instants for everyone, whatever their own time zone, so one
number ("spent this month") means the same thing on every page and in every process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

CalendarPeriod = Literal["day", "week", "month"]


def period_bounds(period: CalendarPeriod, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the UTC period containing `now`."""
    moment = now.astimezone(UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + timedelta(days=1)
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    start = day.replace(day=1)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end
