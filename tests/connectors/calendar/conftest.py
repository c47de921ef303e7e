"""Helpers for the calendar connector's tests: the session's Radicale, a fresh calendar per test, accounts
pointing at it, and `run()` (a coroutine on a loop of its own in a worker thread; the session's Playwright
keeps a loop on the main thread)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import niquests
import pytest
from pydantic import SecretStr

from meshclaw.connectors.calendar.config import CalendarConfig
from meshclaw.connectors.calendar.manifest import connector
from meshclaw.connectors.contract import Account, StaticAccounts
from meshclaw.tools.registry import ToolSpec
from tests.servers.calendar import USERS, CalendarServer, radicale  # noqa: F401  (the session fixture)

T = TypeVar("T")
ACCOUNT = "work-calendar"


def run(coro: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def make_calendar(server: CalendarServer, user: str, name: str) -> str:
    """Create a calendar with display name `name` (MKCALENDAR over HTTP); returns its id."""
    calendar_id = f"cal-{uuid.uuid4().hex[:10]}"
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
        f"<D:displayname>{name}</D:displayname>"
        "</D:prop></D:set></C:mkcalendar>"
    )
    response = niquests.request(
        "MKCALENDAR",
        f"{server.url}{user}/{calendar_id}/",
        data=body.encode(),
        auth=(user, USERS[user]),
        headers={"Content-Type": "application/xml"},
        timeout=10,
    )
    assert response.status_code == 201, (response.status_code, response.text)
    return calendar_id


def account(server: CalendarServer, user: str = "alice", **fields: Any) -> Account[CalendarConfig]:
    values: dict[str, Any] = {"url": server.url, "username": user, "password": SecretStr(USERS[user])}
    values.update(fields)
    return Account(name=ACCOUNT, connector="calendar", owner_user_id=1, config=CalendarConfig(**values))


def tools(*accounts: Account[CalendarConfig]) -> dict[str, ToolSpec]:
    found = connector().tools(StaticAccounts(accounts={a.name: a for a in accounts}))
    return {tool.name: tool for tool in found}


def call(tool: ToolSpec, **args: Any) -> Any:
    return run(tool.function(tool.args.model_validate(args)))


def vevent(uid: str, lines: str, summary: str = "Meeting") -> str:
    """A VCALENDAR with one VEVENT holding `lines` (DTSTART and friends), LF line ends (put() converts)."""
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//tests//EN\nBEGIN:VEVENT\n"
        f"UID:{uid}\nDTSTAMP:20261101T000000Z\nSUMMARY:{summary}\n{lines.strip()}\n"
        "END:VEVENT\nEND:VCALENDAR\n"
    )


@pytest.fixture
def work(radicale: CalendarServer) -> str:  # noqa: F811
    """A fresh calendar of alice's, display name 'Work <id>'; the test's account counts only it."""
    return make_calendar(radicale, "alice", f"Work {uuid.uuid4().hex[:6]}")
