"""The calendar connector as MeshClaw sees it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from meshclaw.connectors.calendar.agenda import read_occurrences
from meshclaw.connectors.calendar.conditions import owner_in_meeting
from meshclaw.connectors.calendar.config import CalendarConfig
from meshclaw.connectors.calendar.events import EVENT_CREATED, MEETING_STARTED, poll
from meshclaw.connectors.calendar.tools import calendar_tools
from meshclaw.connectors.contract import Account, Connector, EventSourceSpec


async def check(account: Account[Any]) -> str:
    """Logs in, lists the calendars the account counts and reads today's events from them."""
    now = datetime.now(UTC)
    items, notes = await read_occurrences(account, None, now, now + timedelta(days=1))
    counted = ", ".join(account.config.calendars) or "all calendars"
    unreadable = f", {len(notes)} unreadable" if notes else ""
    return f"{counted}: {len(items)} events in the next 24 hours{unreadable}"


def connector() -> Connector:
    return Connector(
        name="calendar",
        title="Calendar (CalDAV)",
        config=CalendarConfig,
        tools=calendar_tools,
        check=check,
        events=(EventSourceSpec(name="poll", emits=(MEETING_STARTED, EVENT_CREATED), run=poll),),
        conditions={"owner_in_meeting": owner_in_meeting},
    )
