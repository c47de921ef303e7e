"""Date ranges as Clarity's readers give them: whole UTC days, `until` exclusive, bounded.

Clarity reads daily rollups and scores weeks, so times of day would only pretend to a precision the
data does not have: a date-time is accepted and its date is used. An empty range (since == until) or a
reversed one is refused rather than answered with zeros, which would read as "no use"; so is a range
longer than `MAX_DAYS`, which no dashboard needs and which would make one request scan years of rollups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from meshclaw.errors import BadRequestError

MAX_DAYS = 366


@dataclass(frozen=True, kw_only=True)
class DateRange:
    since: date
    """First day, inclusive."""
    until: date
    """Day after the last, exclusive."""

    @property
    def days(self) -> int:
        return (self.until - self.since).days

    @property
    def start(self) -> datetime:
        return datetime(self.since.year, self.since.month, self.since.day, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return datetime(self.until.year, self.until.month, self.until.day, tzinfo=UTC)


def parse_day(value: str, field: str) -> date:
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequestError(
            f"{field} must be an ISO 8601 date such as 2026-11-02, not {value[:40]!r}", field=field
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def parse_range(
    since: str | None, until: str | None, *, today: date, default_days: int, max_days: int = MAX_DAYS
) -> DateRange:
    """The reader's range; missing ends default to the `default_days` ending today (inclusive)."""
    end = parse_day(until, "until") if until and until.strip() else today + timedelta(days=1)
    start = parse_day(since, "since") if since and since.strip() else end - timedelta(days=default_days)
    if start == end:
        raise BadRequestError(
            "the range is empty: since and until are the same day, and until is exclusive "
            "(for one day, send until = since + 1 day)",
            field="until",
        )
    if start > end:
        raise BadRequestError(f"since ({start}) must be earlier than until ({end})", field="since")
    if (end - start).days > max_days:
        raise BadRequestError(
            f"the range covers {(end - start).days} days; at most {max_days} are allowed per request",
            field="since",
        )
    return DateRange(since=start, until=end)
