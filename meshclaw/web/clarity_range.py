"""The date range picker of the Clarity pages: `from` and `to` (both inclusive, as people read a
calendar) or a preset `days` (7, 30, 90), turned into the `since`/`until` (exclusive) the views take.

A bad range is answered on the page itself, beside the picker, with what to change: a reversed range,
one starting in the future, or one longer than `MAX_DAYS`. The pages read weekly adoption, whose views
look at most half a year at once, so one limit for every page keeps the picker's answer the same
everywhere (the API and exports of daily usage allow a year).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from meshclaw.clarity.ranges import parse_day
from meshclaw.clarity.views import MAX_WEEKS_DAYS
from meshclaw.errors import BadRequestError

PRESETS: tuple[int, ...] = (7, 30, 90)
DEFAULT_DAYS = 30
MAX_DAYS = MAX_WEEKS_DAYS


class RangeError(BadRequestError):
    """A range the picker cannot show; the message says what to change."""


@dataclass(frozen=True, kw_only=True)
class PickedRange:
    first: date
    """First day shown, inclusive."""
    last: date
    """Last day shown, inclusive."""
    preset: int | None
    """The preset chosen (7, 30, 90), if any: the picker highlights it."""

    @property
    def since(self) -> str:
        return self.first.isoformat()

    @property
    def until(self) -> str:
        """The exclusive end the views and the API take."""
        return (self.last + timedelta(days=1)).isoformat()

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def every_day(self) -> list[date]:
        """Each day of the range, for charts that show days without use as zero."""
        return [self.first + timedelta(days=offset) for offset in range(self.days)]

    def query(self, **extra: str | int | None) -> str:
        """The page's own query string (for exports and links), with `extra` parameters that are set."""
        values: dict[str, str | int] = {"from": self.since, "to": self.last.isoformat()}
        values.update({key: value for key, value in extra.items() if value not in (None, "")})
        return urlencode(values)

    def api_query(self, **extra: str | int | None) -> str:
        """The same range for /api/v1/clarity (`since`, exclusive `until`)."""
        values: dict[str, str | int] = {"since": self.since, "until": self.until}
        values.update({key: value for key, value in extra.items() if value not in (None, "")})
        return urlencode(values)


def _preset(days: str) -> int:
    try:
        count = int(days.strip())
    except ValueError:
        raise RangeError(
            f"days must be a whole number of days such as 30, not {days[:20]!r}", field="days"
        ) from None
    return count


def pick_range(
    first: str | None, last: str | None, days: str | None, *, today: date, max_days: int = MAX_DAYS
) -> PickedRange:
    """The range asked for; nothing given means the last `DEFAULT_DAYS` days, today included."""
    if days and days.strip():
        count = _preset(days)
        if not 1 <= count <= max_days:
            raise RangeError(f"days must be between 1 and {max_days}, not {count}", field="days")
        return PickedRange(
            first=today - timedelta(days=count - 1), last=today, preset=count if count in PRESETS else None
        )
    end = parse_day(last, "to") if last and last.strip() else today
    start = parse_day(first, "from") if first and first.strip() else end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise RangeError(
            f"the range is reversed: it starts on {start} but ends on {end}; pick a start on or before the end",
            field="from",
        )
    if start > today:
        raise RangeError(
            f"the range starts on {start}, after today ({today}): nothing can have been recorded yet",
            field="from",
        )
    if (end - start).days + 1 > max_days:
        raise RangeError(
            f"the range covers {(end - start).days + 1} days; at most {max_days} days can be shown at once "
            "(the export of daily usage takes up to a year): pick a shorter range",
            field="from",
        )
    preset = next((count for count in PRESETS if end == today and (end - start).days + 1 == count), None)
    return PickedRange(first=start, last=end, preset=preset)
