"""Which days Clarity's day and week tables are current for, so a reader can split a window between them
and the rollups.

A day is current when the `rollup_days` version Clarity summed it at (`clarity_summary_days`) is the
version metering has now; every write to a day's rollups raises it. A day without a `rollup_days` row
has no rollups at all, so it is current too (there is nothing to miss). Readers take the sums of current
days from the tables and read the rollups of the others (typically today, while events arrive): the
answer is the same as reading the rollups alone, only cheaper.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from meshclaw.db.models.clarity import ClaritySummaryDay
from meshclaw.db.models.metering import RollupDay


def stale_days(session: Session, start: datetime, end: datetime) -> list[datetime]:
    """The days in [start, end) whose rollups changed since Clarity summed them (or never were)."""
    r, s = RollupDay, ClaritySummaryDay
    query = (
        select(r.day)
        .outerjoin(s, s.day == r.day)
        .where(r.day >= start, r.day < end, or_(s.version.is_(None), s.version != r.version))
        .order_by(r.day)
    )
    return list(session.scalars(query))


def stale_weeks(session: Session, mondays: list[date]) -> set[date]:
    """The weeks (by Monday) with at least one stale day."""
    if not mondays:
        return set()
    first = datetime.combine(min(mondays), time(), tzinfo=UTC)
    last = datetime.combine(max(mondays), time(), tzinfo=UTC) + timedelta(days=7)
    return {day.date() - timedelta(days=day.weekday()) for day in stale_days(session, first, last)}
