"""The only code that speaks CalDAV: a `caldav` (3.x, synchronous) session run in a worker thread.

Every operation opens its own session, does its few requests and closes it, inside `run()`, which bounds it
by the account's timeout twice over: each HTTP request carries the timeout (so the worker thread ends by
itself), and the caller stops waiting when it passes (so a hanging server cannot hang a run even while a
request is still stuck). Failures become a `ToolError` that says what went wrong and what to do, never
with the password: the session's URL carries no credentials (config.py refuses them).

Calendars are named by display name or collection id (the last URL segment), the value a grant's
`calendars` scope lists.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import niquests
from caldav.collection import Calendar
from caldav.davclient import DAVClient
from caldav.lib import error as dav_error
from caldav.lib.url import URL

from meshclaw.connectors.calendar.config import CalendarConfig
from meshclaw.tools.registry import ToolError

T = TypeVar("T")

ICAL_HEADERS = {"Content-Type": "text/calendar; charset=utf-8"}


@dataclass(frozen=True, kw_only=True, slots=True)
class CalendarRef:
    name: str
    """The display name, or the id when the calendar has none."""
    id: str
    """The collection's last URL segment."""


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredObject:
    href: str
    """The object's path on the server (`/alice/work/x.ics`)."""
    data: str


class Session:
    """One logged-in CalDAV connection. Synchronous: use it only inside `run()`."""

    def __init__(self, config: CalendarConfig) -> None:
        self._config = config
        self._client = DAVClient(
            url=config.url,
            username=config.username,
            password=config.password.get_secret_value(),
            timeout=config.timeout_seconds,  # type: ignore[arg-type]  # niquests takes float seconds
            enable_rfc6764=False,  # the URL is given; no DNS discovery that could send the login elsewhere
        )
        self._calendars: list[tuple[CalendarRef, Calendar]] | None = None

    def close(self) -> None:
        self._client.close()

    def calendars(self) -> list[CalendarRef]:
        return [ref for ref, _ in self._all()]

    def considered(self) -> list[str]:
        """The calendars the account counts (its `calendars`, else all), by the names `calendar()` takes:
        the display name, or the id where two calendars share one."""
        if self._config.calendars:
            for name in self._config.calendars:
                self.calendar(name)  # an account naming a missing calendar is an error, not silence
            return list(self._config.calendars)
        refs = self.calendars()
        names = [ref.name for ref in refs]
        return [ref.name if names.count(ref.name) == 1 else ref.id for ref in refs]

    def calendar(self, name: str) -> Calendar:
        """A calendar by id (unique), else by display name (which two calendars may share)."""
        calendars = self._all()
        by_id = [cal for ref, cal in calendars if ref.id == name]
        by_name = [cal for ref, cal in calendars if ref.name == name]
        if by_id:
            return by_id[0]
        if len(by_name) == 1:
            return by_name[0]
        if by_name:
            ids = ", ".join(ref.id for ref, _ in calendars if ref.name == name)
            raise ToolError(f"{len(by_name)} calendars are named '{name}'; name one by its id ({ids})")
        known = ", ".join(sorted({ref.name for ref, _ in calendars})) or "none"
        raise ToolError(f"no calendar named '{name}' on this account (its calendars: {known})")

    def objects_between(self, name: str, start: datetime, end: datetime) -> list[StoredObject]:
        """The stored objects with an occurrence in [start, end), unexpanded (ical.py expands them)."""
        found: list[Any] = _done(
            self.calendar(name).search(start=start, end=end, event=True, expand=False, post_filter=False)
        )
        return [StoredObject(href=_path(str(item.url)), data=str(item.data)) for item in found]

    def load(self, name: str, href: str) -> str | None:
        """One object's text; None when it is gone."""
        url = _url(self.calendar(name)).join(href)
        response = self._client.request(str(url), "GET")
        if response.status == 404:
            return None
        if response.status >= 300:
            raise ToolError(f"the CalDAV server answered {response.status} reading {href}")
        return str(response.raw)

    def create(self, name: str, filename: str, text: str) -> tuple[bool, str]:
        """Store a new object at `filename` in the calendar unless one is there already (If-None-Match: *,
        so two attempts cannot both create). Returns (created, href)."""
        url = _url(self.calendar(name)).join(filename)
        response = self._client.put(str(url), text, {**ICAL_HEADERS, "If-None-Match": "*"})
        if response.status == 412:
            return False, _path(str(url))
        if response.status >= 300:
            raise ToolError(
                f"the CalDAV server refused the new event ({response.status}): {_short(str(response.raw))}"
            )
        return True, _path(str(url))

    def changes(self, name: str, token: str | None) -> tuple[str | None, list[str]]:
        """The hrefs added or changed since `token` (all of them for None) and the token to ask with next."""
        collection = _done(
            self.calendar(name).get_objects_by_sync_token(sync_token=token, load_objects=False)
        )
        token_now = collection.sync_token
        return (str(token_now) if token_now else None), [_path(str(item.url)) for item in collection]

    def _all(self) -> list[tuple[CalendarRef, Calendar]]:
        if self._calendars is None:
            principal = self._client.get_principal()
            self._calendars = []
            for cal in _done(principal.get_calendars()):
                ref = CalendarRef(name=str(cal.get_display_name() or _id(cal)), id=_id(cal))
                self._calendars.append((ref, cal))
        return self._calendars


async def run(config: CalendarConfig, account: str, operation: Callable[[Session], T]) -> T:
    """Run `operation` on a fresh session in a worker thread, bounded by the account's timeout.

    A connection that cannot be opened or is cut before the answer is tried once more after a short pause:
    every operation here is safe to repeat (reads, and creates that are keyed by their file name and sent
    with If-None-Match: *). A timeout is not retried: a hanging server would double the wait."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await _attempt(config, account, operation)
        except _Dropped as dropped:
            if attempt == ATTEMPTS:
                raise ToolError(
                    f"lost or could not open the connection to the CalDAV server of account '{account}' "
                    f"({_host(config)}), {ATTEMPTS} times: {_short(str(dropped.__cause__))}; check the URL "
                    "and that the server is up"
                ) from dropped.__cause__
            await asyncio.sleep(RETRY_PAUSE_S)
    raise AssertionError("unreachable")


ATTEMPTS = 2
RETRY_PAUSE_S = 0.5


class _Dropped(Exception):
    """The connection failed (refused, reset, closed mid-answer): worth one more attempt."""


async def _attempt(config: CalendarConfig, account: str, operation: Callable[[Session], T]) -> T:
    def work() -> T:
        session = Session(config)
        try:
            return operation(session)
        finally:
            session.close()

    try:
        return await asyncio.wait_for(asyncio.to_thread(work), timeout=config.timeout_seconds)
    except (TimeoutError, niquests.exceptions.Timeout) as timeout:
        raise ToolError(
            f"the CalDAV server of account '{account}' ({_host(config)}) did not answer within "
            f"{config.timeout_seconds:g} s; try again later or check the server"
        ) from timeout
    except dav_error.AuthorizationError as refused:
        raise ToolError(
            f"the CalDAV server of account '{account}' ({_host(config)}) refused the login '{config.username}' "
            "(HTTP 401/403): check the username and the password (the account's vault secret)"
        ) from refused
    except (niquests.exceptions.ConnectionError, niquests.exceptions.ChunkedEncodingError) as dropped:
        raise _Dropped() from dropped
    except (dav_error.DAVError, niquests.exceptions.RequestException) as failed:
        raise ToolError(
            f"the CalDAV server of account '{account}' ({_host(config)}) failed: {type(failed).__name__}: "
            f"{_short(str(failed))}"
        ) from failed


def _done(result: T | Coroutine[Any, Any, T]) -> T:
    """caldav 3 types each call as 'a value, or a coroutine for an async client'; ours is synchronous."""
    if isinstance(result, Coroutine):
        result.close()
        raise TypeError("caldav returned a coroutine from a synchronous client")
    return result


def _url(cal: Calendar) -> URL:
    if cal.url is None:
        raise ToolError("the CalDAV server listed a calendar without a URL")
    return cal.url


def _id(cal: Calendar) -> str:
    return unquote(str(cal.url).rstrip("/").rsplit("/", 1)[-1])


def _path(url: str) -> str:
    return urlsplit(url).path


def _host(config: CalendarConfig) -> str:
    return urlsplit(config.url).netloc


def _short(text: str) -> str:
    return " ".join(text.split())[:300]
