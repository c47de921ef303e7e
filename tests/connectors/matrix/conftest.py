"""Fixtures for the Matrix connector's tests: the real Synapse (tests/servers/matrix.py), a bot and its
owner registered on it, the tools bound to the bot's account, and a second nio client acting as a person."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from nio import AsyncClient, AsyncClientConfig, RoomCreateResponse, RoomSendResponse

from meshclaw.connectors.contract import Account, ApprovalAnswer, Event, StaticAccounts
from meshclaw.connectors.matrix.config import MatrixConfig
from meshclaw.connectors.matrix.manifest import connector
from meshclaw.tools.idempotency import bind, unbind
from meshclaw.tools.registry import ToolSpec
from tests.servers.matrix import MatrixUser, Synapse, synapse

__all__ = ["synapse"]

T = TypeVar("T")
ACCOUNT = "chat"


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a loop of its own in a worker thread (never asyncio.run on the main thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def account(config: MatrixConfig, name: str = ACCOUNT) -> Account[MatrixConfig]:
    return Account(name=name, connector="matrix", owner_user_id=1, config=config)


def bot_config(server: Synapse, bot: MatrixUser, owner: MatrixUser | None, **fields: Any) -> MatrixConfig:
    values: dict[str, Any] = {
        "homeserver": server.url,
        "user_id": bot.user_id,
        "access_token": bot.access_token,
        "owner_matrix_user": owner.user_id if owner else None,
        "timeout_s": 10,
    }
    values.update(fields)
    return MatrixConfig.model_validate(values)


class Tools:
    """The connector's tools bound to some accounts, called the way the platform calls them."""

    def __init__(self, *accounts: Account[MatrixConfig]) -> None:
        specs = connector().tools(StaticAccounts(accounts={item.name: item for item in accounts}))
        self.specs: dict[str, ToolSpec] = {spec.name: spec for spec in specs}

    async def call(self, name: str, *, key: str | None = None, **args: Any) -> Any:
        spec = self.specs[name]
        token = bind(key) if key is not None else None
        try:
            return await spec.function(spec.args.model_validate({"account": ACCOUNT, **args}))
        finally:
            if token is not None:
                unbind(token)


@asynccontextmanager
async def person(server: Synapse, user: MatrixUser) -> AsyncIterator[AsyncClient]:
    """A nio client logged in as a person of the test (not through the connector)."""
    client = AsyncClient(server.url, user.user_id, config=AsyncClientConfig(request_timeout=10))
    client.access_token = user.access_token
    client.user_id = user.user_id
    client.device_id = user.device_id
    try:
        yield client
    finally:
        await client.close()


async def create_room(client: AsyncClient, *, invite: list[str], name: str = "ops", **fields: Any) -> str:
    response = await client.room_create(name=name, invite=invite, **fields)
    assert isinstance(response, RoomCreateResponse), response
    room_id: str = response.room_id
    return room_id


async def say(client: AsyncClient, room_id: str, text: str, **content: Any) -> str:
    response = await client.room_send(
        room_id, "m.room.message", {"msgtype": "m.text", "body": text, **content}
    )
    assert isinstance(response, RoomSendResponse), response
    event_id: str = response.event_id
    return event_id


async def react(client: AsyncClient, room_id: str, event_id: str, key: str) -> str:
    relation = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
    response = await client.room_send(room_id, "m.reaction", {"m.relates_to": relation})
    assert isinstance(response, RoomSendResponse), response
    reaction_id: str = response.event_id
    return reaction_id


async def history(client: AsyncClient, room_id: str) -> list[dict[str, Any]]:
    """The room's message events, oldest first, as a person sees them."""
    response = await client.room_messages(room_id, start="", limit=100)
    events = [event.source for event in response.chunk if event.source.get("type") == "m.room.message"]
    return list(reversed(events))


@dataclass
class Sink:
    """An EventSink that keeps what the source emits, and lets a test wait for it."""

    events: list[Event] = field(default_factory=list)
    answers: list[ApprovalAnswer] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def emit(self, event: Event) -> None:
        self.events.append(event)
        self.changed.set()

    async def answer(self, answer: ApprovalAnswer) -> None:
        self.answers.append(answer)
        self.changed.set()

    async def wait_for(self, ready: Callable[[], bool], timeout: float = 15) -> None:
        async with asyncio.timeout(timeout):
            while not ready():
                self.changed.clear()
                await self.changed.wait()


@dataclass(frozen=True)
class World:
    server: Synapse
    bot: MatrixUser
    owner: MatrixUser
    stranger: MatrixUser
    config: MatrixConfig

    @property
    def tools(self) -> Tools:
        return Tools(account(self.config))


@pytest.fixture
def world(synapse: Synapse) -> World:
    """A bot with an access-token account, its owner, and a stranger, all new users on the session's server."""
    bot, owner, stranger = synapse.register("bot"), synapse.register("owner"), synapse.register("stranger")
    return World(
        server=synapse, bot=bot, owner=owner, stranger=stranger, config=bot_config(synapse, bot, owner)
    )


async def joined(
    world: World, client: AsyncClient, *, name: str = "ops", invite: tuple[str, ...] = (), **fields: Any
) -> str:
    """A room the given person creates with the bot in it (invited, then joined through nio as the bot),
    and the others in `invite` invited."""
    room_id = await create_room(client, invite=[world.bot.user_id, *invite], name=name, **fields)
    async with person(world.server, world.bot) as bot:
        response = await bot.join(room_id)
        assert getattr(response, "room_id", None) == room_id, response
    return room_id
