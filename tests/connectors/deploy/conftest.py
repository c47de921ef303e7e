"""Helpers for the deploy connector's tests: the blue/green fixture, calling tools the way the platform
does (through `connector().tools(StaticAccounts(...))`, with an idempotency key bound like a durable run
binds it), and an event sink that records."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from meshclaw.connectors.contract import Account, ApprovalAnswer, Event, StaticAccounts
from meshclaw.connectors.deploy.config import DeployConfig
from meshclaw.connectors.deploy.manifest import connector
from meshclaw.tools import idempotency
from tests.servers.deploy import bluegreen

__all__ = ["bluegreen"]  # the session fixture, found by name

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a loop of its own in a worker thread (never asyncio.run on the main thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def account(name: str, config: dict[str, Any] | DeployConfig) -> Account[DeployConfig]:
    validated = config if isinstance(config, DeployConfig) else DeployConfig.model_validate(config)
    return Account(name=name, connector="deploy", owner_user_id=None, config=validated)


async def call(
    accounts: list[Account[DeployConfig]], tool: str, *, key: str | None = None, **args: Any
) -> Any:
    """Call a tool as the platform does: arguments validated by its model, the run's key bound. The
    `account` argument defaults to the first account's name."""
    args.setdefault("account", accounts[0].name)
    specs = {
        spec.name: spec for spec in connector().tools(StaticAccounts(accounts={a.name: a for a in accounts}))
    }
    spec = specs[tool]
    token = idempotency.bind(key) if key is not None else None
    try:
        return await spec.function(spec.args.model_validate(args))
    finally:
        if token is not None:
            idempotency.unbind(token)


@dataclass
class RecordingSink:
    events: list[Event] = field(default_factory=list)

    async def emit(self, event: Event) -> None:
        self.events.append(event)

    async def answer(self, answer: ApprovalAnswer) -> None:
        raise AssertionError("the deploy connector gives no approval answers")
