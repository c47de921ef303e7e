"""`owner_in_meeting` against a real Radicale: which events make the owner 'in a meeting' at a moment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meshclaw.connectors.calendar.conditions import owner_in_meeting
from meshclaw.connectors.calendar.manifest import connector
from tests.connectors.calendar.conftest import account, make_calendar, run, vevent
from tests.servers.calendar import CalendarServer

EVENTS = {
    "meeting": "DTSTART:20261123T090000Z\nDTEND:20261123T100000Z",
    "free": "DTSTART:20261123T110000Z\nDTEND:20261123T120000Z\nTRANSP:TRANSPARENT",
    "cancelled": "DTSTART:20261123T120000Z\nDTEND:20261123T130000Z\nSTATUS:CANCELLED",
    "declined": "DTSTART:20261123T130000Z\nDTEND:20261123T140000Z\nORGANIZER:mailto:eve@example.org\n"
    "ATTENDEE;PARTSTAT=ACCEPTED:mailto:eve@example.org\nATTENDEE;PARTSTAT=DECLINED:mailto:alice@example.test",
    "accepted": "DTSTART:20261123T140000Z\nDTEND:20261123T150000Z\nORGANIZER:mailto:eve@example.org\n"
    "ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.test",
    "weekly": "DTSTART;TZID=Europe/Berlin:20261102T170000\nDTEND;TZID=Europe/Berlin:20261102T180000\n"
    "RRULE:FREQ=WEEKLY;BYDAY=MO",
    "offsite": "DTSTART;VALUE=DATE:20261124\nDTEND;VALUE=DATE:20261125",
}


@pytest.fixture(scope="module")
def seeded(radicale: CalendarServer) -> str:
    """One calendar holding EVENTS, shared by this module's tests (they only read it)."""
    calendar_id = make_calendar(radicale, "alice", "Conditions")
    for uid, lines in EVENTS.items():
        radicale.put("alice", calendar_id, f"{uid}.ics", vevent(uid, lines))
    return calendar_id


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 11, 23, 9, 0, tzinfo=UTC), True),  # the start counts
        (datetime(2026, 11, 23, 9, 59, tzinfo=UTC), True),
        (datetime(2026, 11, 23, 10, 0, tzinfo=UTC), False),  # the end does not
        (datetime(2026, 11, 23, 11, 30, tzinfo=UTC), False),  # shown as free
        (datetime(2026, 11, 23, 12, 30, tzinfo=UTC), False),  # cancelled
        (datetime(2026, 11, 23, 13, 30, tzinfo=UTC), False),  # the owner declined
        (datetime(2026, 11, 23, 14, 30, tzinfo=UTC), True),  # the owner accepted
        (datetime(2026, 11, 30, 16, 30, tzinfo=UTC), True),  # a later occurrence of the weekly event
        (datetime(2026, 12, 1, 16, 30, tzinfo=UTC), False),  # a Tuesday
        (datetime(2026, 11, 24, 10, 0, tzinfo=UTC), False),  # all-day: not a meeting by default
    ],
)
def test_owner_in_meeting(radicale: CalendarServer, seeded: str, moment: datetime, expected: bool) -> None:
    owner = account(radicale, calendars=(seeded,), owner_email="alice@example.test", timezone="Europe/Berlin")
    assert run(owner_in_meeting(owner, moment)) is expected


def test_all_day_events_count_when_configured(radicale: CalendarServer, seeded: str) -> None:
    owner = account(radicale, calendars=(seeded,), all_day_events_are_meetings=True, timezone="Europe/Berlin")
    # The all-day event is the 24th in Berlin: 23:00 UTC on the 23rd is already inside it, 23:00 on the 24th not.
    assert run(owner_in_meeting(owner, datetime(2026, 11, 23, 23, 0, tzinfo=UTC))) is True
    assert run(owner_in_meeting(owner, datetime(2026, 11, 24, 23, 0, tzinfo=UTC))) is False


def test_the_connector_offers_the_condition(radicale: CalendarServer, seeded: str) -> None:
    condition = connector().conditions["owner_in_meeting"]
    owner = account(radicale, calendars=(seeded,))
    assert run(condition(owner, datetime(2026, 11, 23, 9, 30, tzinfo=UTC))) is True


RECURRING_WITH_EXCEPTIONS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//tests//EN
BEGIN:VEVENT
UID:review
DTSTAMP:20261101T000000Z
SUMMARY:Review
DTSTART:20261102T100000Z
DTEND:20261102T110000Z
RRULE:FREQ=WEEKLY;COUNT=6
EXDATE:20261109T100000Z
END:VEVENT
BEGIN:VEVENT
UID:review
DTSTAMP:20261101T000000Z
RECURRENCE-ID:20261116T100000Z
SUMMARY:Review (cancelled this week)
STATUS:CANCELLED
DTSTART:20261116T100000Z
DTEND:20261116T110000Z
END:VEVENT
BEGIN:VEVENT
UID:review
DTSTAMP:20261101T000000Z
RECURRENCE-ID:20261123T100000Z
SUMMARY:Review (moved)
DTSTART:20261123T150000Z
DTEND:20261123T160000Z
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture(scope="module")
def reviews(radicale: CalendarServer) -> str:
    """A weekly meeting with one week excluded, one occurrence cancelled and one moved."""
    calendar_id = make_calendar(radicale, "alice", "Reviews")
    radicale.put("alice", calendar_id, "review.ics", RECURRING_WITH_EXCEPTIONS)
    return calendar_id


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 11, 2, 10, 30, tzinfo=UTC), True),  # a plain occurrence
        (datetime(2026, 11, 9, 10, 30, tzinfo=UTC), False),  # excluded (EXDATE)
        (datetime(2026, 11, 16, 10, 30, tzinfo=UTC), False),  # this occurrence was cancelled
        (datetime(2026, 11, 23, 10, 30, tzinfo=UTC), False),  # moved away from here...
        (datetime(2026, 11, 23, 15, 30, tzinfo=UTC), True),  # ...to here
        (datetime(2026, 12, 14, 10, 30, tzinfo=UTC), False),  # after COUNT=6 ran out
    ],
)
def test_exceptions_to_a_recurring_meeting(
    radicale: CalendarServer, reviews: str, moment: datetime, expected: bool
) -> None:
    assert run(owner_in_meeting(account(radicale, calendars=(reviews,)), moment)) is expected
