"""Clarity's unit of time: the week, Monday 00:00 UTC to the next Monday (ISO 8601 weeks)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_bounds(week_start: date) -> tuple[datetime, datetime]:
    """The week containing `week_start`, as [start, end) aware UTC datetimes."""
    start = datetime.combine(monday_of(week_start), time(), tzinfo=UTC)
    return start, start + timedelta(days=7)


def weeks_between(first: date, last: date) -> list[date]:
    """Mondays of the weeks from the one containing `first` to the one containing `last`, inclusive."""
    monday, end = monday_of(first), monday_of(last)
    weeks: list[date] = []
    while monday <= end:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks
