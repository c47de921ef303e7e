"""The calendar tools. Reading events is `read_untrusted` (anyone can send the owner an invite, and its
title, description and attendees land in the calendar as the sender wrote them); listing calendars and
free/busy are `read_private` (names and busy times the owner's own calendar holds). Listing calendars still
taints the run (`returns_untrusted`): a calendar someone shares with the owner keeps the name they gave it.

Creating is two tools so a grant can allow the harmless half alone: `calendar_create_event` puts an event
with no attendees on the owner's calendar (`write_internal`); `calendar_create_meeting` adds attendees,
whom a server with scheduling (RFC 6638) invites by mail, so it is `communicate_external` and its
`attendees` are the destinations the gate and `recipient_domains` judge.

A create happens once per call: the event's UID and its file name on the server are derived from the call's
idempotency key, so a call that is run again after a crash finds the event it made (a GET, then a PUT with
If-None-Match: *) instead of making a second.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from meshclaw.connectors.calendar import busy, client, ical
from meshclaw.connectors.calendar.agenda import read_occurrences
from meshclaw.connectors.calendar.config import CalendarConfig
from meshclaw.connectors.contract import Account, AccountError, Accounts
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.idempotency import current_key
from meshclaw.tools.registry import ToolError, ToolSpec
from meshclaw.tools.result_view import ResultView

CONNECTOR = "calendar"
MAX_RANGE = timedelta(days=366)
"""A recurring event expands to one item per occurrence; a bounded range keeps an answer bounded."""
TEXT_LIMIT = 4000


# What the calendar server writes: ids, times and states; an event's summary, location, description and
# attendees, and a shared calendar's name, are the organizer's or sharer's words.
CALENDAR_VIEW = ResultView(
    fields=frozenset(
        {
            "uid",
            "id",
            "calendar",
            "timezone",
            "start",
            "end",
            "all_day",
            "recurring",
            "status",
            "free",
            "blocks_time",
            "truncated",
            "counted",
            "busy",
        }
    )
)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str = Field(description="The calendar account to use, e.g. 'work-calendar'")


class _RangeArgs(_Args):
    start: datetime = Field(
        description="Start of the range, ISO 8601; without an offset, in the account's time zone"
    )
    end: datetime = Field(description="End of the range (exclusive), ISO 8601")


class ListCalendarsArgs(_Args):
    pass


class ListEventsArgs(_RangeArgs):
    calendar: str = Field(description="The calendar's name or id (see calendar_list_calendars)")
    limit: int = Field(default=100, ge=1, le=500, description="Return at most this many occurrences")


class FreeBusyArgs(_RangeArgs):
    calendar: str | None = Field(
        default=None, description="Only this calendar; by default every calendar the account counts"
    )


class CreateEventArgs(_Args):
    calendar: str = Field(description="The calendar to put the event in")
    summary: str = Field(min_length=1, max_length=1000, description="The event's title")
    start: datetime = Field(
        description="When it starts, ISO 8601; without an offset, in the account's time zone"
    )
    end: datetime = Field(description="When it ends, ISO 8601")
    location: str | None = Field(default=None, max_length=1000, description="Where it happens")
    description: str | None = Field(default=None, max_length=TEXT_LIMIT, description="Notes for the event")


class CreateMeetingArgs(CreateEventArgs):
    attendees: list[str] = Field(
        min_length=1,
        max_length=100,
        description="The attendees' email addresses; they may be invited by mail",
    )


def calendar_tools(accounts: Accounts) -> list[ToolSpec]:
    async def list_calendars(args: ListCalendarsArgs) -> dict[str, Any]:
        account = await _account(accounts, args.account)
        considered = set(account.config.calendars)
        found = await client.run(account.config, account.name, lambda session: session.calendars())
        return {
            "calendars": [
                {
                    "name": cal.name,
                    "id": cal.id,
                    "counted": not considered or cal.name in considered or cal.id in considered,
                }
                for cal in found
            ]
        }

    async def list_events(args: ListEventsArgs) -> dict[str, Any]:
        account = await _account(accounts, args.account)
        config = account.config
        start, end = _range(args.start, args.end, config)
        items, notes = await read_occurrences(account, [args.calendar], start, end)
        items.sort(key=lambda item: (item.start, item.uid))
        return {
            "calendar": args.calendar,
            "timezone": config.timezone,
            "events": [_describe(item, config) for item in items[: args.limit]],
            "truncated": len(items) > args.limit,
            "notes": notes,
        }

    async def freebusy(args: FreeBusyArgs) -> dict[str, Any]:
        account = await _account(accounts, args.account)
        config = account.config
        start, end = _range(args.start, args.end, config)
        names = [args.calendar] if args.calendar else None
        items, notes = await read_occurrences(account, names, start, end)
        spans = busy.busy_intervals(items, config)
        return {
            "timezone": config.timezone,
            "busy": [{"start": max(s, start).isoformat(), "end": min(e, end).isoformat()} for s, e in spans],
            # The notes quote what outsiders wrote; free/busy is read_private, so it only counts them.
            "unreadable_events": len(notes),
        }

    async def create_event(args: CreateEventArgs) -> dict[str, Any]:
        return await _create(accounts, args, attendees=())

    async def create_meeting(args: CreateMeetingArgs) -> dict[str, Any]:
        return await _create(accounts, args, attendees=args.attendees)

    return [
        ToolSpec(
            name="calendar_list_calendars",
            description="List the calendars of a calendar account, and which ones count for free/busy "
            "and meetings.",
            effect=EffectClass.READ_PRIVATE,
            args=ListCalendarsArgs,
            function=list_calendars,
            origin=CONNECTOR,
            returns_untrusted=True,  # a shared calendar's name is written by whoever shares it
            view=CALENDAR_VIEW,
        ),
        ToolSpec(
            name="calendar_list_events",
            description="List the events of one calendar in a time range, recurring events expanded into "
            "their occurrences, with title, times, location, description, organizer, attendees and status.",
            effect=EffectClass.READ_UNTRUSTED,
            view=CALENDAR_VIEW,
            args=ListEventsArgs,
            function=list_events,
            scopes=("calendars",),
            origin=CONNECTOR,
        ),
        ToolSpec(
            name="calendar_get_freebusy",
            description="When the account's owner is busy in a time range: merged busy intervals from "
            "their calendars (cancelled, free, declined and, unless configured, all-day events do not count).",
            effect=EffectClass.READ_PRIVATE,
            args=FreeBusyArgs,
            function=freebusy,
            scopes=("calendars",),
            origin=CONNECTOR,
        ),
        ToolSpec(
            name="calendar_create_event",
            description="Put an event without attendees on one of the owner's calendars (blocking time, a "
            "reminder). Use calendar_create_meeting to invite people.",
            effect=EffectClass.WRITE_INTERNAL,
            args=CreateEventArgs,
            function=create_event,
            scopes=("calendars",),
            origin=CONNECTOR,
        ),
        ToolSpec(
            name="calendar_create_meeting",
            description="Create an event with attendees on one of the owner's calendars; the calendar "
            "server may email them an invitation.",
            effect=EffectClass.COMMUNICATE_EXTERNAL,
            args=CreateMeetingArgs,
            function=create_meeting,
            scopes=("calendars", "recipient_domains"),
            origin=CONNECTOR,
        ),
    ]


async def _create(accounts: Accounts, args: CreateEventArgs, *, attendees: Sequence[str]) -> dict[str, Any]:
    account = await _account(accounts, args.account)
    config = account.config
    start, end = _range(args.start, args.end, config)
    uid = event_uid(current_key())
    text = ical.event_text(
        uid=uid,
        summary=args.summary,
        start=start,
        end=end,
        location=args.location,
        description=args.description,
        organizer=config.owner_address if attendees else None,
        attendees=attendees,
    )
    filename = uid.split("@", 1)[0] + ".ics"

    def store(session: client.Session) -> bool:
        if session.load(args.calendar, filename) is not None:
            return False  # this call ran before (same idempotency key): the event is there
        created, _ = session.create(args.calendar, filename, text)
        return created

    created = await client.run(config, account.name, store)
    return {
        "uid": uid,
        "calendar": args.calendar,
        "created": created,
        "already_existed": not created,
        "summary": args.summary,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "attendees": list(attendees),
    }


def event_uid(key: str | None) -> str:
    """The UID of the event a call creates: from its idempotency key (the same call, the same event), or
    random outside a durable run."""
    if key is None:
        return f"meshclaw-{uuid.uuid4().hex}@meshclaw"
    return f"meshclaw-{hashlib.sha256(key.encode()).hexdigest()[:40]}@meshclaw"


async def _account(accounts: Accounts, name: str) -> Account[CalendarConfig]:
    try:
        return await accounts.get(CONNECTOR, name, CalendarConfig)
    except AccountError as error:
        raise ToolError(str(error)) from error


def _range(start: datetime, end: datetime, config: CalendarConfig) -> tuple[datetime, datetime]:
    start, end = _aware(start, config), _aware(end, config)
    if end <= start:
        raise ToolError(f"end ({end.isoformat()}) must be after start ({start.isoformat()})")
    if end - start > MAX_RANGE:
        raise ToolError(f"the range is longer than {MAX_RANGE.days} days; ask for a shorter one")
    return start, end


def _aware(value: datetime, config: CalendarConfig) -> datetime:
    return value.replace(tzinfo=config.zone) if value.tzinfo is None else value.astimezone(config.zone)


def _describe(item: ical.Occurrence, config: CalendarConfig) -> dict[str, Any]:
    return {
        "uid": item.uid,
        "summary": item.summary,
        "start": item.start.isoformat(),
        "end": item.end.isoformat(),
        "all_day": item.all_day,
        "recurring": item.recurring,
        "status": item.status,
        "free": item.transparent,
        "blocks_time": busy.blocks_time(item, config),
        "location": item.location,
        "description": item.description[:TEXT_LIMIT] if item.description else None,
        "organizer": item.organizer,
        "attendees": [{"address": a.address, "name": a.name, "status": a.partstat} for a in item.attendees],
    }
