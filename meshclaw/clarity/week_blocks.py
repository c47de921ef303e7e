"""Which part of a date range Clarity may read from its week tables, and which days are left over.

`clarity_usage_weeks` and `clarity_outcome_weeks` hold a whole week's sums of the day tables, written
together and marked in `clarity_summary_weeks`. A range reads the longest run of such weeks inside it,
if every day of them is current (`freshness.py`), and the day tables for the days before and after:
a year by team is then 52 rows a team instead of 365.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.clarity.ranges import DateRange
from meshclaw.db.models.clarity import ClaritySummaryWeek

Span = tuple[datetime, datetime]
"""[start, end) at midnight UTC."""


def week_block(session: Session, window: DateRange, stale: list[datetime]) -> Span | None:
    """The longest run of whole weeks inside the window that the week tables hold and whose days are all
    current, as [start, end); None when there is none."""
    first = window.since + timedelta(days=(7 - window.since.weekday()) % 7)
    mondays: list[date] = []
    while first + timedelta(days=7) <= window.until:
        mondays.append(first)
        first += timedelta(days=7)
    if not mondays:
        return None
    written = set(
        session.scalars(
            select(ClaritySummaryWeek.week_start).where(ClaritySummaryWeek.week_start.in_(mondays))
        )
    )
    unusable = {day.date() - timedelta(days=day.weekday()) for day in stale}
    best: list[date] = []
    run: list[date] = []
    for monday in mondays:
        run = [*run, monday] if monday in written and monday not in unusable else []
        if len(run) > len(best):
            best = run
    if not best:
        return None
    start = datetime.combine(best[0], time(), tzinfo=UTC)
    return start, start + timedelta(weeks=len(best))


def day_spans(window: DateRange, block: Span | None) -> list[Span]:
    """The window's days outside the block, each side as its own range (one range with the weeks left out
    would still walk every day of the window in the index); empty sides are left out."""
    if block is None:
        return [(window.start, window.end)]
    return [(first, end) for first, end in ((window.start, block[0]), (block[1], window.end)) if first < end]
