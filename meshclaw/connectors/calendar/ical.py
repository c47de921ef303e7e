"""iCalendar in and out: one stored calendar object becomes the occurrences it has in a time range, and a new
event becomes the text the server stores.

Recurrences are expanded here (with `recurring_ical_events`, the library caldav itself expands with), one
object at a time, so an object the parser cannot read (a broken DTSTART from a lax server or a hand-edited
file) costs only itself: it is skipped with a note, and the other events are still answered. All-day and
floating times are placed in the owner's time zone, which the server cannot know.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events  # type: ignore[import-untyped]

PRODID = "-//MeshClaw//calendar connector//EN"
NOTE_LIMIT = 200
"""A note quotes the parser's complaint, which can quote the broken value; keep it short."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Attendee:
    address: str
    """Without `mailto:`, as written (case kept)."""
    name: str | None
    partstat: str | None
    """`ACCEPTED`, `DECLINED`, `TENTATIVE`, `NEEDS-ACTION`... upper case; None when not given."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Occurrence:
    """One occurrence of an event: a single event, or one instance of a recurring one."""

    uid: str
    calendar: str
    summary: str
    start: datetime
    """Aware, in the owner's time zone (an all-day event starts at local midnight)."""
    end: datetime
    all_day: bool
    status: str | None
    """`CONFIRMED`, `TENTATIVE` or `CANCELLED`; None when not given."""
    transparent: bool
    """TRANSP:TRANSPARENT, shown as free."""
    recurring: bool
    location: str | None
    description: str | None
    organizer: str | None
    attendees: tuple[Attendee, ...]


def occurrences(
    data: str, *, calendar: str, start: datetime, end: datetime, zone: ZoneInfo, source: str
) -> tuple[list[Occurrence], list[str]]:
    """The occurrences of one calendar object that overlap [start, end), and notes on what was skipped.

    `source` names the object in a note (its href)."""
    try:
        parsed = icalendar.Calendar.from_ical(data)
        # In the owner's zone: the library places all-day and floating events in the zone of the range.
        components = recurring_ical_events.of(parsed).between(start.astimezone(zone), end.astimezone(zone))
        found = [_occurrence(component, calendar=calendar, zone=zone) for component in components]
    # Outsiders write these objects (any invite lands here) and parsers fail in many ways (ValueError,
    # KeyError, TypeError...): whatever one object does, it must not hide the others.
    except Exception as error:
        return [], [_note(source, error)]
    return [item for item in found if item.end > start and item.start < end], []


def _note(source: str, error: Exception) -> str:
    reason = " ".join(str(error).split())[:NOTE_LIMIT]
    return (
        f"skipped {source}: the server sent an event that cannot be read ({type(error).__name__}: {reason})"
    )


def _occurrence(component: icalendar.cal.Component, *, calendar: str, zone: ZoneInfo) -> Occurrence:
    raw_start = component.decoded("DTSTART")
    all_day = not isinstance(raw_start, datetime)
    start = _place(raw_start, zone)
    if "DTEND" in component:
        end = _place(component.decoded("DTEND"), zone)
    elif "DURATION" in component:
        end = start + component.decoded("DURATION")
    else:
        # RFC 5545 3.6.1: a date lasts the day, a date-time has no duration.
        end = start + (timedelta(days=1) if all_day else timedelta(0))
    organizer = component.get("ORGANIZER")
    return Occurrence(
        uid=str(component.get("UID", "")),
        calendar=calendar,
        summary=str(component.get("SUMMARY", "")),
        start=start,
        end=max(end, start),
        all_day=all_day,
        status=_upper(component.get("STATUS")),
        transparent=_upper(component.get("TRANSP")) == "TRANSPARENT",
        recurring="RRULE" in component or "RDATE" in component or "RECURRENCE-ID" in component,
        location=_text(component.get("LOCATION")),
        description=_text(component.get("DESCRIPTION")),
        organizer=_address(organizer) if organizer is not None else None,
        attendees=tuple(_attendee(value) for value in _as_list(component.get("ATTENDEE"))),
    )


def _place(value: date | datetime, zone: ZoneInfo) -> datetime:
    """A DTSTART/DTEND value as an aware datetime in the owner's zone (dates and floating times are theirs)."""
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=zone)
    if value.tzinfo is None:
        return value.replace(tzinfo=zone)
    return value.astimezone(zone)


def _as_list(value: object) -> list[object]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _attendee(value: object) -> Attendee:
    params = getattr(value, "params", {})
    name = params.get("CN")
    return Attendee(
        address=_address(value), name=str(name) if name else None, partstat=_upper(params.get("PARTSTAT"))
    )


def _address(value: object) -> str:
    text = str(value)
    return text[7:] if text.lower().startswith("mailto:") else text


def _upper(value: object) -> str | None:
    return str(value).upper() if value is not None else None


def _text(value: object) -> str | None:
    return str(value) if value is not None else None


def event_text(
    *,
    uid: str,
    summary: str,
    start: datetime,
    end: datetime,
    location: str | None = None,
    description: str | None = None,
    organizer: str | None = None,
    attendees: Sequence[str] = (),
) -> str:
    """A VCALENDAR holding one new event; times are written in UTC (every server reads those alike)."""
    event = icalendar.Event()
    event.add("uid", uid)
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", start.astimezone(UTC))
    event.add("dtend", end.astimezone(UTC))
    event.add("summary", summary)
    if location:
        event.add("location", location)
    if description:
        event.add("description", description)
    if organizer:
        event.add("organizer", f"mailto:{organizer}")
    for address in attendees:
        event.add(
            "attendee",
            f"mailto:{address}",
            parameters={"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"},
        )
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add_component(event)
    text: str = calendar.to_ical().decode("utf-8")
    return text


def first_start(data: str, zone: ZoneInfo) -> tuple[str, datetime] | None:
    """The UID and (first) start of a calendar object, for the poll's `calendar.event_created`; None when it
    holds no readable event."""
    try:
        parsed = icalendar.Calendar.from_ical(data)
        for component in parsed.walk("VEVENT"):
            if "RECURRENCE-ID" in component:
                continue
            return str(component.get("UID", "")), _place(component.decoded("DTSTART"), zone)
    except Exception:  # same reason as in `occurrences`: one unreadable object must not stop the poll
        return None
    return None
