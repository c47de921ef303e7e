"""The occurrences in a time range of an account's calendars: what the event tools, free/busy, the
`owner_in_meeting` condition and the poll all read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from meshclaw.connectors.calendar import client, ical
from meshclaw.connectors.calendar.config import CalendarConfig
from meshclaw.connectors.contract import Account

SERVER_MARGIN = timedelta(days=1)
"""The server matches all-day and floating events in UTC; ask it for a day more on each side and cut
exactly in ical.py, in the owner's zone."""


async def read_occurrences(
    account: Account[CalendarConfig], names: Sequence[str] | None, start: datetime, end: datetime
) -> tuple[list[ical.Occurrence], list[str]]:
    """The occurrences in [start, end) of the named calendars (None: those the account counts), and notes
    on objects that could not be read."""
    config = account.config

    def fetch(session: client.Session) -> list[tuple[str, list[client.StoredObject]]]:
        wanted = list(names) if names is not None else session.considered()
        return [
            (name, session.objects_between(name, start - SERVER_MARGIN, end + SERVER_MARGIN))
            for name in wanted
        ]

    found: list[ical.Occurrence] = []
    notes: list[str] = []
    for name, objects in await client.run(config, account.name, fetch):
        for stored in objects:
            items, skipped = ical.occurrences(
                stored.data, calendar=name, start=start, end=end, zone=config.zone, source=stored.href
            )
            found.extend(items)
            notes.extend(skipped)
    return found, notes
