"""What blocks the owner's time: one rule shared by free/busy, `owner_in_meeting` and the poll's
`calendar.meeting_started`, so the three never disagree.

An occurrence blocks time unless it is cancelled, marked free (TRANSP:TRANSPARENT), declined by the owner
(their ATTENDEE line says PARTSTAT=DECLINED), or all-day while the account does not count all-day events
(holidays, birthdays and out-of-office markers are usually all-day and are not meetings).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from meshclaw.connectors.calendar.config import CalendarConfig
from meshclaw.connectors.calendar.ical import Occurrence


def blocks_time(occurrence: Occurrence, config: CalendarConfig) -> bool:
    if occurrence.status == "CANCELLED" or occurrence.transparent:
        return False
    if occurrence.all_day and not config.all_day_events_are_meetings:
        return False
    owner = config.owner_address
    if owner is not None:
        for attendee in occurrence.attendees:
            if attendee.address.lower() == owner and attendee.partstat == "DECLINED":
                return False
    return occurrence.end > occurrence.start


def in_progress(occurrence: Occurrence, now: datetime) -> bool:
    return occurrence.start <= now < occurrence.end


def busy_intervals(
    occurrences: Iterable[Occurrence], config: CalendarConfig
) -> list[tuple[datetime, datetime]]:
    """The time the owner is busy, as sorted, merged intervals (overlapping and touching ones joined)."""
    spans = sorted((item.start, item.end) for item in occurrences if blocks_time(item, config))
    merged: list[tuple[datetime, datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
