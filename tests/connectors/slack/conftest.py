"""Slack connector tests: the tools as the platform calls them (`connector().tools(StaticAccounts(...))`),
against the emulator (tests/servers/slack.py) or, for Socket Mode and faults, the suite's own front server
before it (tests/servers/slack_socket.py).

Coroutines run on a loop of their own in a worker thread (the session's Playwright keeps a loop on the
main thread); an event source runs on one in a background thread until the test stops it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import SecretStr

from meshclaw.connectors.catalog import load
from meshclaw.connectors.contract import (
    Account,
    ApprovalAnswer,
    Event,
    EventSourceSpec,
    InboundRequest,
    StaticAccounts,
)
from meshclaw.connectors.slack.config import SlackConfig
from meshclaw.tools import idempotency
from tests.servers.slack import BOT_TOKEN, slack_emulator
from tests.servers.slack_socket import APP_TOKEN, slack_front, slack_front_server

__all__ = ["slack_emulator", "slack_front", "slack_front_server"]

T = TypeVar("T")
SIGNING_SECRET = "test-signing-secret"
ACCOUNT = "work-slack"
APPROVE_CLICK: dict[str, Any] = {
    "type": "block_actions",
    "user": {"id": "U0ANA", "username": "ana"},
    "actions": [
        {
            "action_id": "meshclaw_approve",
            "block_id": "meshclaw_approval:ap-1",
            "value": "ap-1",
            "type": "button",
        }
    ],
}
"""An interactivity payload as Slack sends it when Ana clicks Approve on approval ap-1's prompt (copy it
before changing it)."""


def run(coro: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def account(base_url: str, **config: Any) -> Account[SlackConfig]:
    values: dict[str, Any] = {
        "bot_token": SecretStr(BOT_TOKEN),
        "signing_secret": SecretStr(SIGNING_SECRET),
        "app_token": SecretStr(APP_TOKEN),
        "base_url": base_url,
    }
    values.update(config)
    return Account(name=ACCOUNT, connector="slack", owner_user_id=1, config=SlackConfig(**values))


def call(slack: Account[SlackConfig], tool: str, key: str | None = None, **args: Any) -> Any:
    """Calls a tool the way a run does: arguments validated by its schema, the idempotency key bound."""
    tools = {spec.name: spec for spec in load("slack").tools(StaticAccounts(accounts={slack.name: slack}))}
    spec = tools[tool]
    validated = spec.args.model_validate({"account": slack.name, **args})

    async def go() -> Any:
        token = idempotency.bind(key) if key is not None else None
        try:
            return await spec.function(validated)
        finally:
            if token is not None:
                idempotency.unbind(token)

    return run(go())


def signed_request(
    body: bytes,
    *,
    content_type: str = "application/json",
    at: float | None = None,
    secret: str = SIGNING_SECRET,
) -> InboundRequest:
    """A request signed as Slack signs it (v0: HMAC-SHA256 of `v0:{timestamp}:{body}`)."""
    timestamp = str(int(at if at is not None else time.time()))
    base = f"v0:{timestamp}:".encode() + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return InboundRequest(
        headers={
            "content-type": content_type,
            "x-slack-request-timestamp": timestamp,
            "x-slack-signature": signature,
        },
        body=body,
        received_at=datetime.now(UTC),
    )


@dataclass
class RecordingSink:
    events: list[Event] = field(default_factory=list)
    answers: list[ApprovalAnswer] = field(default_factory=list)
    failures_left: int = 0
    """Fail this many hand-overs first (the platform's database away)."""

    async def emit(self, event: Event) -> None:
        if self.failures_left > 0:
            self.failures_left -= 1
            raise RuntimeError("the platform could not record the event")
        self.events.append(event)

    async def answer(self, answer: ApprovalAnswer) -> None:
        self.answers.append(answer)

    def wait_for(self, what: str, count: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(getattr(self, what)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: {len(getattr(self, what))} of {count} after {timeout} s")
            time.sleep(0.02)


@contextmanager
def running(
    source: EventSourceSpec, slack: Account[SlackConfig], sink: RecordingSink | None = None
) -> Iterator[RecordingSink]:
    """Runs an event source on its own loop in a thread until the block ends, then stops it."""
    sink = sink or RecordingSink()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    failure: list[BaseException] = []

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(source.run(slack, sink, stop))
        except BaseException as exc:
            failure.append(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=15)
        assert not thread.is_alive(), "the event source did not stop within 15 s of being asked"
        assert not failure, f"the event source failed: {failure[0]!r}"
