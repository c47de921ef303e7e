"""The calendar poll against a real Radicale: `calendar.meeting_started` for meetings that start, and
`calendar.event_created` for events that appear, each once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from meshclaw.connectors.calendar.events import EVENT_CREATED, MEETING_STARTED, PollState, look, poll
from meshclaw.connectors.calendar.manifest import connector
from meshclaw.connectors.contract import ApprovalAnswer, Event
from tests.connectors.calendar.conftest import ACCOUNT, account, run, vevent
from tests.servers.calendar import CalendarServer


class Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def emit(self, event: Event) -> None:
        self.events.append(event)

    async def answer(self, answer: ApprovalAnswer) -> None:
        raise AssertionError("the calendar never answers approvals")


def test_meetings_that_started_since_the_last_look(radicale: CalendarServer, work: str) -> None:
    radicale.put("alice", work, "a.ics", vevent("a", "DTSTART:20261123T090000Z\nDTEND:20261123T100000Z"))
    radicale.put(
        "alice",
        work,
        "free.ics",
        vevent("free", "DTSTART:20261123T090500Z\nDTEND:20261123T100000Z\nTRANSP:TRANSPARENT"),
    )
    radicale.put(
        "alice",
        work,
        "daily.ics",
        vevent("daily", "DTSTART:20261122T091000Z\nDTEND:20261122T092000Z\nRRULE:FREQ=DAILY"),
    )
    owner = account(radicale, calendars=(work,))
    sink, state = Sink(), PollState()
    nine = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    async def looks() -> None:
        await look(owner, sink, state, since=nine - timedelta(minutes=1), now=nine + timedelta(minutes=5))
        await look(owner, sink, state, since=nine + timedelta(minutes=5), now=nine + timedelta(minutes=15))
        # A look repeated over the same time (after a failure) emits nothing twice.
        await look(owner, sink, state, since=nine - timedelta(minutes=1), now=nine + timedelta(minutes=15))

    run(looks())
    started = [e for e in sink.events if e.type == MEETING_STARTED]
    assert [(e.fields["uid"], e.key) for e in started] == [
        ("a", f"{MEETING_STARTED}:{ACCOUNT}:a:2026-11-23T09:00:00+00:00"),
        ("daily", f"{MEETING_STARTED}:{ACCOUNT}:daily:2026-11-23T09:10:00+00:00"),
    ]
    assert started[0].fields == {"account": ACCOUNT, "calendar": work, "uid": "a"}
    assert all(e.untrusted and e.account == ACCOUNT for e in started)


def test_events_created_after_the_first_look(radicale: CalendarServer, work: str) -> None:
    radicale.put("alice", work, "old.ics", vevent("old", "DTSTART:20261201T090000Z\nDTEND:20261201T100000Z"))
    owner = account(radicale, calendars=(work,))
    sink, state = Sink(), PollState()
    then = datetime(2026, 1, 1, tzinfo=UTC)  # no meetings in this window: only creations matter here

    async def look_now() -> None:
        await look(owner, sink, state, since=then, now=then + timedelta(minutes=1))

    run(look_now())  # learns what is there
    assert sink.events == []
    radicale.put(
        "alice",
        work,
        "invite.ics",
        vevent("invite-1", "DTSTART:20261202T140000Z\nDTEND:20261202T150000Z", "Zoë's invite 🎉"),
    )
    run(look_now())
    run(look_now())
    assert [(e.type, e.fields, e.key) for e in sink.events] == [
        (
            EVENT_CREATED,
            {"account": ACCOUNT, "calendar": work, "uid": "invite-1"},
            f"{EVENT_CREATED}:{ACCOUNT}:invite-1:2026-12-02T14:00:00+00:00",
        )
    ]


def test_the_poll_runs_until_stopped(radicale: CalendarServer, work: str) -> None:
    owner = account(radicale, calendars=(work,), poll_interval_seconds=1.0)
    sink = Sink()
    source = connector().events[0]
    assert source.run is poll and set(source.emits) == {MEETING_STARTED, EVENT_CREATED}

    async def scenario() -> None:
        stop = asyncio.Event()
        state = PollState()
        task = asyncio.create_task(poll(owner, sink, stop, state=state))
        while work not in state.tokens:  # until the first look has learned the (empty) calendar
            await asyncio.sleep(0.05)
        start = datetime.now(UTC) + timedelta(seconds=1)
        stamp = lambda moment: moment.strftime("%Y%m%dT%H%M%SZ")  # noqa: E731
        radicale.put(
            "alice",
            work,
            "soon.ics",
            vevent("soon", f"DTSTART:{stamp(start)}\nDTEND:{stamp(start + timedelta(hours=1))}"),
        )
        for _ in range(150):
            if {e.type for e in sink.events} == {MEETING_STARTED, EVENT_CREATED}:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    run(scenario())
    assert sorted(e.type for e in sink.events) == [EVENT_CREATED, MEETING_STARTED]


def test_the_poll_survives_a_failing_server(radicale: CalendarServer) -> None:
    from pydantic import SecretStr

    wrong = account(radicale, password=SecretStr("wrong"), poll_interval_seconds=1.0)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(poll(wrong, Sink(), stop))
        await asyncio.sleep(0.3)
        assert not task.done()
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    run(scenario())
