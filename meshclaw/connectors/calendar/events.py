"""The calendar poll: every `poll_interval_seconds` it looks at the calendars the account counts and emits

- `calendar.meeting_started` for each occurrence that blocks the owner's time (busy.py's rule) and started
  since the previous look;
- `calendar.event_created` for each event that appeared since the previous look (found with the CalDAV
  sync-collection report, RFC 6578; caldav falls back to comparing ETags on a server without it). The first
  look only learns what is there.

Fields: `account`, `calendar`, `uid`. Events are `untrusted`: anyone can put an event in the owner's
calendar by inviting them. The key is the type, the account, the UID and the start in UTC: the same meeting
sits in every attendee's calendar, and a recurring one has one UID for all its occurrences. A key emitted
once is not emitted again by this source (a look repeated after a failure covers the same time). A failing
server is retried with growing pauses (up to 5 minutes) until it answers or the source is stopped; then
meetings that started in the meantime are announced, up to an hour back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from meshclaw.connectors.calendar import busy, client, ical
from meshclaw.connectors.calendar.agenda import read_occurrences
from meshclaw.connectors.calendar.config import CalendarConfig
from meshclaw.connectors.contract import Account, Event, EventSink
from meshclaw.tools.registry import ToolError

MEETING_STARTED = "calendar.meeting_started"
EVENT_CREATED = "calendar.event_created"
MAX_BACKOFF_S = 300.0
MAX_CATCH_UP = timedelta(hours=1)
"""After an outage, meetings that started during it are still announced, up to this far back."""
REMEMBERED_KEYS = 10_000

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class PollState:
    tokens: dict[str, str | None] = field(default_factory=dict)
    """Calendar -> its sync token after the last look; absent until the first look at it."""
    known: dict[str, set[str]] = field(default_factory=dict)
    """Calendar -> hrefs already seen."""
    emitted: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def first_time(self, key: str) -> bool:
        if key in self.emitted:
            return False
        self.emitted[key] = None
        while len(self.emitted) > REMEMBERED_KEYS:
            self.emitted.popitem(last=False)
        return True


async def poll(
    account: Account[Any], sink: EventSink, stop: asyncio.Event, *, state: PollState | None = None
) -> None:
    """The event source (`state` lets a test see what the looks have learned)."""
    config: CalendarConfig = account.config
    state = state if state is not None else PollState()
    since = datetime.now(UTC) - timedelta(seconds=config.poll_interval_seconds)
    failures = 0
    while not stop.is_set():
        now = datetime.now(UTC)
        since = max(since, now - MAX_CATCH_UP)
        try:
            await look(account, sink, state, since=since, now=now)
            since, failures = now, 0
        except ToolError as error:
            failures += 1
            log.warning(
                "calendar poll of account '%s' failed (%d in a row): %s", account.name, failures, error
            )
        pause = config.poll_interval_seconds * (2 ** min(failures, 10))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                stop.wait(), timeout=min(pause, max(MAX_BACKOFF_S, config.poll_interval_seconds))
            )


async def look(
    account: Account[Any], sink: EventSink, state: PollState, *, since: datetime, now: datetime
) -> None:
    """One look: meetings that started in (since, now], then events created since the last look."""
    config: CalendarConfig = account.config
    items, _ = await read_occurrences(account, None, since, now + timedelta(seconds=1))
    for item in sorted(items, key=lambda occurrence: occurrence.start):
        if since < item.start <= now and busy.blocks_time(item, config):
            await _emit(sink, state, MEETING_STARTED, account.name, item.calendar, item.uid, item.start)

    def changes(session: client.Session) -> list[tuple[str, str]]:
        """(calendar, text) of each object new since the last look."""
        found: list[tuple[str, str]] = []
        for name in session.considered():
            first = name not in state.tokens
            token, hrefs = session.changes(name, state.tokens.get(name))
            known = state.known.setdefault(name, set())
            for href in hrefs:
                if href in known:
                    continue
                known.add(href)
                if not first:
                    text = session.load(name, href)
                    if text is not None:
                        found.append((name, text))
            state.tokens[name] = token
        return found

    for name, text in await client.run(config, account.name, changes):
        head = ical.first_start(text, config.zone)
        if head is not None:
            await _emit(sink, state, EVENT_CREATED, account.name, name, head[0], head[1])


async def _emit(
    sink: EventSink, state: PollState, kind: str, account: str, calendar: str, uid: str, start: datetime
) -> None:
    key = f"{kind}:{account}:{uid}:{start.astimezone(UTC).isoformat()}"
    if state.first_time(key):
        await sink.emit(
            Event(
                type=kind,
                account=account,
                fields={"account": account, "calendar": calendar, "uid": uid},
                key=key,
            )
        )
