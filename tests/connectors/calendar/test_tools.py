"""The calendar tools against a real Radicale: listing calendars, events in a range (recurrences expanded,
times in the owner's zone, unicode), free/busy, and creating events and meetings exactly once."""

from __future__ import annotations

import re

import icalendar
import niquests
import pytest

from meshclaw.tools import idempotency
from meshclaw.tools.registry import ToolError
from tests.connectors.calendar.conftest import ACCOUNT, account, call, make_calendar, tools, vevent
from tests.servers.calendar import USERS, CalendarServer

BERLIN = {"timezone": "Europe/Berlin"}


def stored(server: CalendarServer, calendar_id: str) -> list[icalendar.Event]:
    """Every VEVENT stored in the calendar, read without the connector (PROPFIND, then GET of each object)."""
    listing = niquests.request(
        "PROPFIND",
        f"{server.url}alice/{calendar_id}/",
        auth=("alice", USERS["alice"]),
        headers={"Depth": "1"},
        timeout=10,
    )
    hrefs = re.findall(r"<(?:\w+:)?href>([^<]+)</", listing.text)
    events: list[icalendar.Event] = []
    for href in hrefs:
        if href.endswith(".ics"):
            text = niquests.get(
                f"{server.url.rstrip('/')}{href}", auth=("alice", USERS["alice"]), timeout=10
            ).text
            events += icalendar.Calendar.from_ical(text).walk("VEVENT")
    return events


def test_lists_calendars_and_which_count(radicale: CalendarServer, work: str) -> None:
    other = make_calendar(radicale, "alice", "Birthdays")
    tool = tools(account(radicale, calendars=(work,)))["calendar_list_calendars"]
    found = {c["id"]: c for c in call(tool, account=ACCOUNT)["calendars"]}
    assert found[work]["counted"] is True
    assert found[other] == {"name": "Birthdays", "id": other, "counted": False}


def test_events_in_range_expand_recurrences_in_the_owners_zone(radicale: CalendarServer, work: str) -> None:
    radicale.put(
        "alice",
        work,
        "standup.ics",
        vevent("standup", "DTSTART:20261123T090000Z\nDTEND:20261123T093000Z", "Stand-up ☕ Zürich — 会议"),
    )
    radicale.put(
        "alice",
        work,
        "weekly.ics",
        vevent(
            "weekly",
            "DTSTART;TZID=Europe/Berlin:20261102T140000\nDTEND;TZID=Europe/Berlin:20261102T150000\nRRULE:FREQ=WEEKLY;BYDAY=MO",
            "Weekly sync",
        ),
    )
    radicale.put(
        "alice", work, "later.ics", vevent("later", "DTSTART:20261210T090000Z\nDTEND:20261210T100000Z")
    )
    tool = tools(account(radicale, calendars=(work,), **BERLIN))["calendar_list_events"]

    result = call(
        tool, account=ACCOUNT, calendar=work, start="2026-11-23T00:00:00", end="2026-12-08T00:00:00"
    )

    got = [(e["uid"], e["summary"], e["start"]) for e in result["events"]]
    assert got == [
        ("standup", "Stand-up ☕ Zürich — 会议", "2026-11-23T10:00:00+01:00"),
        ("weekly", "Weekly sync", "2026-11-23T14:00:00+01:00"),
        ("weekly", "Weekly sync", "2026-11-30T14:00:00+01:00"),
        ("weekly", "Weekly sync", "2026-12-07T14:00:00+01:00"),
    ]
    assert result["events"][1]["recurring"] is True
    assert result["notes"] == [] and result["truncated"] is False


def test_events_by_display_name_and_limit(radicale: CalendarServer) -> None:
    calendar_id = make_calendar(radicale, "alice", "Team Ünicode")
    radicale.put(
        "alice",
        calendar_id,
        "daily.ics",
        vevent("daily", "DTSTART:20261123T080000Z\nDTEND:20261123T081500Z\nRRULE:FREQ=DAILY"),
    )
    tool = tools(account(radicale))["calendar_list_events"]
    result = call(
        tool,
        account=ACCOUNT,
        calendar="Team Ünicode",
        start="2026-11-23T00:00:00Z",
        end="2026-11-30T00:00:00Z",
        limit=3,
    )
    assert [e["start"] for e in result["events"]] == [
        "2026-11-23T08:00:00+00:00", "2026-11-24T08:00:00+00:00", "2026-11-25T08:00:00+00:00",
    ]  # fmt: skip
    assert result["truncated"] is True


def test_unknown_calendar_names_the_known_ones(radicale: CalendarServer, work: str) -> None:
    tool = tools(account(radicale))["calendar_list_events"]
    with pytest.raises(ToolError, match=r"no calendar named 'Holidays'.*Work"):
        call(
            tool,
            account=ACCOUNT,
            calendar="Holidays",
            start="2026-11-23T00:00:00Z",
            end="2026-11-24T00:00:00Z",
        )


def test_a_range_that_ends_before_it_starts_is_refused(radicale: CalendarServer, work: str) -> None:
    tool = tools(account(radicale))["calendar_list_events"]
    with pytest.raises(ToolError, match="must be after start"):
        call(tool, account=ACCOUNT, calendar=work, start="2026-11-24T00:00:00Z", end="2026-11-23T00:00:00Z")


def test_freebusy_merges_busy_time_and_skips_what_does_not_block(radicale: CalendarServer, work: str) -> None:
    put = lambda name, lines: radicale.put("alice", work, f"{name}.ics", vevent(name, lines))  # noqa: E731
    put("a", "DTSTART:20261123T090000Z\nDTEND:20261123T100000Z")
    put("b", "DTSTART:20261123T093000Z\nDTEND:20261123T103000Z")  # overlaps a
    put("c", "DTSTART:20261123T103000Z\nDTEND:20261123T110000Z")  # touches b
    put("free", "DTSTART:20261123T120000Z\nDTEND:20261123T130000Z\nTRANSP:TRANSPARENT")
    put("cancelled", "DTSTART:20261123T130000Z\nDTEND:20261123T140000Z\nSTATUS:CANCELLED")
    put(
        "declined",
        "DTSTART:20261123T140000Z\nDTEND:20261123T150000Z\nORGANIZER:mailto:eve@example.org\n"
        "ATTENDEE;PARTSTAT=DECLINED:mailto:Alice@Example.test",
    )
    put("holiday", "DTSTART;VALUE=DATE:20261123\nDTEND;VALUE=DATE:20261124")
    put("late", "DTSTART:20261123T160000Z\nDTEND:20261123T170000Z")
    args = {"account": ACCOUNT, "start": "2026-11-23T00:00:00Z", "end": "2026-11-24T00:00:00Z"}

    result = call(
        tools(account(radicale, calendars=(work,), owner_email="alice@example.test"))[
            "calendar_get_freebusy"
        ],
        **args,
    )
    assert result["busy"] == [
        {"start": "2026-11-23T09:00:00+00:00", "end": "2026-11-23T11:00:00+00:00"},
        {"start": "2026-11-23T16:00:00+00:00", "end": "2026-11-23T17:00:00+00:00"},
    ]

    counting_all_day = account(
        radicale, calendars=(work,), owner_email="alice@example.test", all_day_events_are_meetings=True
    )
    result = call(tools(counting_all_day)["calendar_get_freebusy"], **args)
    assert result["busy"] == [{"start": "2026-11-23T00:00:00+00:00", "end": "2026-11-24T00:00:00+00:00"}]


def test_create_event_stores_it_with_unicode(radicale: CalendarServer, work: str) -> None:
    spec = tools(account(radicale, calendars=(work,), **BERLIN))
    result = call(
        spec["calendar_create_event"], account=ACCOUNT, calendar=work, summary="Fokuszeit 🧠 — Überblick",
        start="2026-11-25T09:00:00", end="2026-11-25T11:00:00", location="Café Ñandú",
    )  # fmt: skip
    assert result["created"] is True
    (event,) = stored(radicale, work)
    assert str(event["SUMMARY"]) == "Fokuszeit 🧠 — Überblick"
    assert str(event["LOCATION"]) == "Café Ñandú"
    assert "ATTENDEE" not in event
    listed = call(
        spec["calendar_list_events"],
        account=ACCOUNT,
        calendar=work,
        start="2026-11-25T00:00:00",
        end="2026-11-26T00:00:00",
    )
    assert [(e["summary"], e["start"], e["end"]) for e in listed["events"]] == [
        ("Fokuszeit 🧠 — Überblick", "2026-11-25T09:00:00+01:00", "2026-11-25T11:00:00+01:00")
    ]


def test_create_meeting_names_attendees_and_the_owner_as_organizer(
    radicale: CalendarServer, work: str
) -> None:
    spec = tools(account(radicale, calendars=(work,), owner_email="alice@example.test"))
    call(
        spec["calendar_create_meeting"], account=ACCOUNT, calendar=work, summary="Kick-off",
        start="2026-11-26T09:00:00Z", end="2026-11-26T10:00:00Z", attendees=["bob@example.test", "zoë@example.org"],
    )  # fmt: skip
    (event,) = stored(radicale, work)
    assert [str(a) for a in event["ATTENDEE"]] == ["mailto:bob@example.test", "mailto:zoë@example.org"]
    assert str(event["ORGANIZER"]) == "mailto:alice@example.test"


def test_a_repeated_create_with_the_same_key_makes_one_event(radicale: CalendarServer, work: str) -> None:
    """A durable run that crashed mid-call runs the call again with the same idempotency key: the event's
    UID and file name come from the key, so the repeat finds the event instead of making a second."""
    tool = tools(account(radicale, calendars=(work,)))["calendar_create_event"]
    args = {
        "account": ACCOUNT,
        "calendar": work,
        "summary": "Once",
        "start": "2026-11-27T09:00:00Z",
        "end": "2026-11-27T10:00:00Z",
    }

    async def twice_with(key: str) -> list[dict[str, object]]:
        token = idempotency.bind(key)
        try:
            model = tool.args.model_validate(args)
            return [await tool.function(model), await tool.function(model)]
        finally:
            idempotency.unbind(token)

    from tests.connectors.calendar.conftest import run

    first, second = run(twice_with("run-42:7"))
    assert (first["created"], second["created"], second["already_existed"]) == (True, False, True)
    assert first["uid"] == second["uid"]
    assert len(stored(radicale, work)) == 1

    (other,) = run(twice_with("run-42:8"))[:1]
    assert other["created"] is True and other["uid"] != first["uid"]
    assert len(stored(radicale, work)) == 2


def test_calendars_sharing_a_name_are_told_apart_by_id(radicale: CalendarServer) -> None:
    first = make_calendar(radicale, "alice", "Shared name")
    second = make_calendar(radicale, "alice", "Shared name")
    radicale.put(
        "alice", second, "s.ics", vevent("in-second", "DTSTART:20261123T080000Z\nDTEND:20261123T090000Z")
    )
    tool = tools(account(radicale))["calendar_list_events"]
    day = {"account": ACCOUNT, "start": "2026-11-23T00:00:00Z", "end": "2026-11-24T00:00:00Z"}
    with pytest.raises(
        ToolError, match=rf"2 calendars are named 'Shared name'; name one by its id \(.*{first}"
    ):
        call(tool, calendar="Shared name", **day)
    assert [e["uid"] for e in call(tool, calendar=second, **day)["events"]] == ["in-second"]
    assert call(tool, calendar=first, **day)["events"] == []
