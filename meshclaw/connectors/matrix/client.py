"""The only module that speaks Matrix: a thin, bounded wrapper over matrix-nio's `AsyncClient`.

Every request runs under the account's `timeout_s` (an outer `asyncio.timeout` too, because nio's own
retry loop would otherwise retry timeouts forever), and nio's built-in retries are switched off so this
module decides what is safe to repeat: reads, logins, and sends carrying a transaction id (the server
answers a repeated `txn_id` with the first event instead of posting twice) are retried on
`M_LIMIT_EXCEEDED`, waiting the server's `retry_after_ms`, until `max_rate_limit_wait_s` is used up.
Nothing is retried after a timeout or a dropped connection: the caller (a durable run) repeats the whole
call with the same idempotency key, which makes the same transaction id.

Errors become `ToolError`s that say what failed and what to do, never with a secret. Results are plain
dataclasses and dicts, so no other module of the connector imports nio.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import aiohttp
from nio import (  # type: ignore[import-untyped]
    AsyncClient,
    AsyncClientConfig,
    DirectRoomsErrorResponse,
    RoomCreateResponse,
    RoomGetEventResponse,
    RoomGetStateEventResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomResolveAliasResponse,
    RoomSendResponse,
    SyncResponse,
)
from nio.responses import ErrorResponse  # type: ignore[import-untyped]

from meshclaw.connectors.matrix.config import MatrixConfig
from meshclaw.tools.registry import ToolError

R = TypeVar("R")

_SNAPSHOT_FILTER = {
    "room": {"timeline": {"limit": 0}, "ephemeral": {"types": []}, "account_data": {"types": []}},
    "presence": {"types": []},
    "account_data": {"types": []},
}
"""A sync that returns every joined room's state (names, members, encryption) and no messages."""

GAP_PAGES = 10
"""At most this many pages of 100 events are read back to fill one room's gap in one sync."""


def _live_filter(timeline_limit: int) -> dict[str, Any]:
    """What the loop's syncs ask for: the rooms' new events (the timeline), no presence, typing or
    receipts. More than `timeline_limit` new events in a room make the timeline "limited" (see `_gap`)."""
    return {
        "room": {
            "timeline": {"limit": timeline_limit},
            "ephemeral": {"types": []},
            "account_data": {"types": []},
            "state": {"lazy_load_members": False},
        },
        "presence": {"types": []},
        "account_data": {"types": []},
    }


@dataclass(frozen=True, kw_only=True, slots=True)
class Room:
    room_id: str
    name: str
    topic: str | None
    joined: tuple[str, ...]
    invited: tuple[str, ...]
    encrypted: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class TimelineEvent:
    """A raw event of a room's timeline as the server sent it, with how many people the room has."""

    room_id: str
    source: Mapping[str, Any]
    joined_count: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Invite:
    room_id: str
    inviter: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class SyncBatch:
    next_batch: str
    events: tuple[TimelineEvent, ...]
    invites: tuple[Invite, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Page:
    events: tuple[Mapping[str, Any], ...]
    """Newest first."""
    end: str | None
    """The token for the next (older) page, None at the room's beginning."""


class MatrixRefused(ToolError):
    """The homeserver answered with a Matrix error (`errcode`), kept in `code` for callers that expect one."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class MatrixAuthFailed(ToolError):
    """The account's token or password was refused: retrying will not help until the secret changes."""


@dataclass(kw_only=True)
class Logins:
    """Access tokens that password logins got, for whoever opens many connections (the tools of one
    registry): a password account then logs in once, not on every call, which would cost the server a
    password hash and leave one more access token of the device behind each time. Keyed by a digest of
    the homeserver, user, device and password, so a changed password logs in again."""

    _tokens: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def key(config: MatrixConfig) -> str:
        assert config.password is not None
        parts = (config.homeserver, config.user_id, config.device_id, config.password.get_secret_value())
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()

    def get(self, config: MatrixConfig) -> str | None:
        return self._tokens.get(self.key(config))

    def put(self, config: MatrixConfig, token: str) -> None:
        self._tokens[self.key(config)] = token

    def forget(self, config: MatrixConfig) -> None:
        self._tokens.pop(self.key(config), None)


def transaction_id(key: str | None) -> str:
    """The Matrix transaction id of a send: derived from the tool call's idempotency key, so a repeated
    call sends the same id and the server returns the first event instead of posting again."""
    if key is None:
        return f"meshclaw-{uuid.uuid4().hex}"
    return f"meshclaw-{hashlib.sha256(key.encode()).hexdigest()[:40]}"


class MatrixClient:
    """A logged-in connection to one account's homeserver. Use `connect(config)`."""

    def __init__(self, nio: AsyncClient, config: MatrixConfig) -> None:
        self._nio = nio
        self._config = config
        self.user_id = config.user_id

    # --- the request discipline -------------------------------------------------------------------

    async def _call(
        self,
        what: str,
        request: Callable[[], Awaitable[R]],
        *,
        retry: bool,
        timeout: float | None = None,
    ) -> R:
        """Run one request with a deadline; retry a rate-limited one when `retry` (it is safe to repeat)."""
        limit = self._config.timeout_s if timeout is None else timeout
        waited = 0.0
        while True:
            try:
                async with asyncio.timeout(limit):
                    response = await request()
            except TimeoutError:
                raise ToolError(
                    f"the Matrix homeserver {self._config.homeserver} did not answer ({what}) within "
                    f"{limit:g} s; check that it is up, then try again"
                ) from None
            except aiohttp.ClientError as exc:
                raise ToolError(
                    f"cannot reach the Matrix homeserver {self._config.homeserver} ({what}): "
                    f"{type(exc).__name__}; check the homeserver URL and that it is running"
                ) from None
            if isinstance(response, ErrorResponse) and response.status_code == "M_LIMIT_EXCEEDED":
                delay = (response.retry_after_ms or 1000) / 1000
                if retry and waited + delay <= self._config.max_rate_limit_wait_s:
                    await asyncio.sleep(delay)
                    waited += delay
                    continue
                raise ToolError(
                    f"the Matrix homeserver is rate limiting this account ({what}); try again in "
                    f"{delay:.1f} s"
                )
            if isinstance(response, ErrorResponse):
                raise self._refused(what, response)
            return response

    def _refused(self, what: str, response: ErrorResponse) -> ToolError:
        code = response.status_code or "error"
        if code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
            return MatrixAuthFailed(
                f"the Matrix homeserver rejected the access token of {self.user_id} ({code}); store a "
                "valid token (or the password) for this account in the vault"
            )
        if code == "M_NOT_FOUND":
            return MatrixRefused(f"Matrix found nothing for {what}: {response.message} ({code})", code=code)
        return MatrixRefused(f"Matrix refused {what}: {response.message} ({code})", code=code)

    # --- session ------------------------------------------------------------------------------------

    async def _login(self, logins: Logins | None) -> None:
        config = self._config
        self._nio.user_id = config.user_id
        if config.access_token is not None:
            self._nio.access_token = config.access_token.get_secret_value()
            return
        cached = logins.get(config) if logins is not None else None
        if cached is not None and logins is not None:
            self._nio.access_token = cached
            try:
                await self.whoami()  # a request, but no password hash and no new token on the server
                return
            except MatrixAuthFailed:
                logins.forget(config)  # logged out or expired: log in again
        assert config.password is not None
        password = config.password.get_secret_value()
        try:
            await self._call(
                "login",
                lambda: self._nio.login(password, device_name="MeshClaw"),
                retry=True,
            )
        except MatrixRefused as exc:
            if exc.code in ("M_FORBIDDEN", "M_USER_DEACTIVATED"):
                raise MatrixAuthFailed(
                    f"login as {config.user_id} failed: wrong user id or password; check the account's "
                    "password in the vault"
                ) from None
            raise
        if logins is not None:
            logins.put(config, self._nio.access_token)

    async def whoami(self) -> str:
        response = await self._call("whoami", self._nio.whoami, retry=True)
        user_id: str = response.user_id
        return user_id

    async def display_name(self) -> str | None:
        response = await self._call(
            "reading the display name", lambda: self._nio.get_displayname(self.user_id), retry=True
        )
        name: str | None = response.displayname
        return name

    # --- rooms --------------------------------------------------------------------------------------

    async def _snapshot(self) -> SyncResponse:
        """A full-state sync without messages: every joined room's name, members and encryption, and
        the invites pending. nio keeps the rooms it reads (`self._nio.rooms`)."""
        # Synapse keeps the answer to an identical sync request for two minutes
        # (`sync_response_cache_duration`), keyed by user, device, filter, since token and `timeout`, so a
        # second snapshot would be the first one again (a room created in between missing). A full-state
        # sync never waits, so a `timeout` that differs per call costs nothing and makes the key new.
        bust = 1 + time.time_ns() // 1_000_000 % 1_000_000_000
        response: SyncResponse = await self._call(
            "reading the rooms",
            lambda: self._nio.sync(timeout=bust, sync_filter=_SNAPSHOT_FILTER, full_state=True),
            retry=True,
        )
        return response

    async def rooms(self) -> list[Room]:
        """Every joined room with its name, topic, members and whether it is encrypted (one sync)."""
        response = await self._snapshot()
        found = []
        for room_id in response.rooms.join:
            room = self._nio.rooms.get(room_id)
            if room is None:
                continue
            found.append(
                Room(
                    room_id=room_id,
                    name=room.display_name,
                    topic=room.topic,
                    joined=tuple(sorted(uid for uid, user in room.users.items() if not user.invited)),
                    invited=tuple(sorted(room.invited_users)),
                    encrypted=bool(room.encrypted),
                )
            )
        return sorted(found, key=lambda room: room.name.lower())

    async def resolve_room(self, room: str) -> str:
        """A room id from a room id (`!abc`, no server part since room version 12) or an alias (`#a:b`)."""
        if room.startswith("!"):
            return room
        if room.startswith("#") and ":" in room:
            response: RoomResolveAliasResponse = await self._call(
                f"resolving {room}", lambda: self._nio.room_resolve_alias(room), retry=True
            )
            room_id: str = response.room_id
            return room_id
        raise ToolError(f"'{room}' is neither a room id (!...) nor a room alias (#name:server)")

    async def is_encrypted(self, room_id: str) -> bool:
        try:
            response = await self._call(
                f"reading the encryption of {room_id}",
                lambda: self._nio.room_get_state_event(room_id, "m.room.encryption"),
                retry=True,
            )
        except MatrixRefused as exc:
            if exc.code == "M_NOT_FOUND":
                return False  # no encryption event: a plain room
            raise
        # nio hands some error bodies of this endpoint (M_FORBIDDEN) back as the event's content.
        content = response.content if isinstance(response, RoomGetStateEventResponse) else {}
        code = content.get("errcode")
        if code == "M_NOT_FOUND":
            return False
        if isinstance(code, str):
            raise MatrixRefused(
                f"Matrix refused reading room {room_id}: {content.get('error', '')} ({code})", code=code
            )
        return isinstance(content.get("algorithm"), str)

    async def join(self, room_id: str) -> None:
        await self._call(f"joining {room_id}", lambda: self._nio.join(room_id), retry=True)

    async def messages(self, room_id: str, *, limit: int, start: str | None) -> Page:
        response: RoomMessagesResponse = await self._call(
            f"reading messages of {room_id}",
            lambda: self._nio.room_messages(room_id, start=start or "", limit=limit),
            retry=True,
        )
        events = tuple(
            event.source for event in response.chunk if isinstance(getattr(event, "source", None), dict)
        )
        end = response.end if response.chunk else None
        return Page(events=events, end=end)

    async def event(self, room_id: str, event_id: str) -> Mapping[str, Any] | None:
        """One event, or None when it does not exist or cannot be seen."""
        try:
            response: RoomGetEventResponse = await self._call(
                f"reading event {event_id}", lambda: self._nio.room_get_event(room_id, event_id), retry=True
            )
        except MatrixRefused as exc:
            if exc.code in ("M_NOT_FOUND", "M_FORBIDDEN"):
                return None
            raise
        source: Mapping[str, Any] = response.event.source
        return source

    async def send(self, room_id: str, event_type: str, content: Mapping[str, Any], *, txn_id: str) -> str:
        """Send one event; returns its id. The same `txn_id` twice posts once (the server deduplicates)."""
        response: RoomSendResponse = await self._call(
            f"sending to {room_id}",
            lambda: self._nio.room_send(room_id, event_type, dict(content), tx_id=txn_id),
            retry=True,
        )
        event_id: str = response.event_id
        return event_id

    # --- direct messages ----------------------------------------------------------------------------

    async def find_dm(self, user_id: str) -> str | None:
        """A room where exactly the bot and `user_id` are (joined or invited), marked direct ones first."""
        rooms = await self.rooms()
        marked = await self._direct_rooms()
        pairs = [room for room in rooms if set(room.joined) | set(room.invited) == {self.user_id, user_id}]
        pairs.sort(key=lambda room: (room.room_id not in marked.get(user_id, ()), user_id not in room.joined))
        return pairs[0].room_id if pairs else None

    async def open_dm(self, user_id: str) -> tuple[str, bool]:
        """The DM room with `user_id` (found, or created and the user invited); whether it was created.
        A repeated call finds the room the first one made, because the invited user already counts."""
        found = await self.find_dm(user_id)
        if found is not None:
            return found, False
        response: RoomCreateResponse = await self._call(
            f"creating a direct room with {user_id}",
            lambda: self._nio.room_create(
                is_direct=True, invite=[user_id], preset=RoomPreset.trusted_private_chat
            ),
            retry=False,
        )
        room_id: str = response.room_id
        await self._mark_direct(user_id, room_id)
        return room_id, True

    async def _direct_rooms(self) -> dict[str, list[str]]:
        """The bot's `m.direct` account data (user -> rooms); empty when unset or unreadable: it only
        orders candidates, membership decides."""
        try:
            async with asyncio.timeout(self._config.timeout_s):
                response = await self._nio.list_direct_rooms()
        except (TimeoutError, aiohttp.ClientError):
            return {}
        if isinstance(response, (DirectRoomsErrorResponse, ErrorResponse)):
            return {}  # never marked any room direct (404), which is not an error
        rooms: dict[str, list[str]] = response.rooms
        return rooms

    async def _mark_direct(self, user_id: str, room_id: str) -> None:
        """Record the room in the bot's `m.direct` account data so Matrix clients show it as a DM."""
        marked = await self._direct_rooms()
        marked.setdefault(user_id, [])
        if room_id not in marked[user_id]:
            marked[user_id].append(room_id)
        path = f"/_matrix/client/v3/user/{self.user_id}/account_data/m.direct"
        headers = {"Authorization": f"Bearer {self._nio.access_token}", "Content-Type": "application/json"}
        try:
            async with asyncio.timeout(self._config.timeout_s):
                response = await self._nio.send("PUT", path, json.dumps(marked), headers)
                response.release()
        except (TimeoutError, aiohttp.ClientError):
            pass  # the room works without the flag; find_dm also finds unmarked pairs

    # --- the event stream ---------------------------------------------------------------------------

    async def prime(self) -> SyncBatch:
        """Learn every room's members (to tell DMs apart) and the position now, without messages: what
        happened before the loop started is backlog, not news. Pending invites are returned."""
        response = await self._snapshot()
        return SyncBatch(next_batch=response.next_batch, events=(), invites=self._invites(response))

    async def sync(self, since: str, *, wait_ms: int, timeline_limit: int = 50) -> SyncBatch:
        """Events since `since`, waiting up to `wait_ms` on the server when there are none yet."""
        timeout = self._config.timeout_s + wait_ms / 1000
        response: SyncResponse = await self._call(
            "syncing",
            lambda: self._nio.sync(timeout=wait_ms, sync_filter=_live_filter(timeline_limit), since=since),
            retry=True,
            timeout=timeout,
        )
        events = []
        for room_id, info in response.rooms.join.items():
            room = self._nio.rooms.get(room_id)
            joined = room.joined_count if room is not None else 0
            sources = [getattr(event, "source", None) for event in info.timeline.events]
            if info.timeline.limited and info.timeline.prev_batch:
                sources = [*await self._gap(room_id, info.timeline.prev_batch, since), *sources]
            events += [
                TimelineEvent(room_id=room_id, source=source, joined_count=joined)
                for source in sources
                if isinstance(source, dict)
            ]
        return SyncBatch(
            next_batch=response.next_batch, events=tuple(events), invites=self._invites(response)
        )

    async def _gap(self, room_id: str, prev_batch: str, since: str) -> list[dict[str, Any]]:
        """The events a limited timeline left out (more arrived than `timeline_limit` since `since`, e.g.
        while the loop was reconnecting), oldest first, read back from `prev_batch` to `since`; at most
        `GAP_PAGES` pages, so a flood cannot stall the loop."""
        found: list[dict[str, Any]] = []
        start = prev_batch
        for _ in range(GAP_PAGES):
            response: RoomMessagesResponse = await self._call(
                f"reading missed messages of {room_id}",
                partial(self._nio.room_messages, room_id, start=start, end=since, limit=100),
                retry=True,
            )
            found += [
                event.source for event in response.chunk if isinstance(getattr(event, "source", None), dict)
            ]
            if not response.chunk or not response.end or response.end == start:
                break
            start = response.end
        return list(reversed(found))

    def _invites(self, response: SyncResponse) -> tuple[Invite, ...]:
        invites = []
        for room_id, info in response.rooms.invite.items():
            inviter = None
            for event in info.invite_state:
                source = getattr(event, "source", {})
                if source.get("type") == "m.room.member" and source.get("state_key") == self.user_id:
                    inviter = source.get("sender")
            invites.append(Invite(room_id=room_id, inviter=inviter))
        return tuple(invites)


@asynccontextmanager
async def connect(config: MatrixConfig, *, logins: Logins | None = None) -> AsyncIterator[MatrixClient]:
    """A logged-in client for one account, closed on exit. Password logins reuse `config.device_id`, and
    the token in `logins` when there is one."""
    nio = AsyncClient(
        config.homeserver,
        config.user_id,
        device_id=config.device_id,
        config=AsyncClientConfig(
            max_limit_exceeded=0,
            max_timeouts=0,
            request_timeout=config.timeout_s,
            encryption_enabled=False,
            store_sync_tokens=False,
        ),
    )
    client = MatrixClient(nio, config)
    try:
        await client._login(logins)
        yield client
    finally:
        await nio.close()
