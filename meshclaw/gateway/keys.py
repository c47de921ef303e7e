"""Virtual keys: MeshClaw API keys with the `gateway` scope, checked in memory.

Hashing a key and reading the database on every request would cap the gateway at a few hundred requests
per second, so a key is read once and then kept in memory by the SHA-256 of its secret (the secret itself
is not kept). A background refresh every `refresh_s` seconds re-reads every cached key in one query, so a
key revoked or expired elsewhere (the CLI, another server process) stops working within about a second,
and a person moved to another team is attributed to it from then on. The same refresh writes last-used
times for the keys used since the previous one, in one statement. Unknown keys are remembered until the
next refresh, so a client retrying a bad key does not hit the database on every request.

Revocations and deactivations made in this process (the API, the web pages) take effect at once: while the
gateway runs, SQLAlchemy attribute events on `ApiKey.revoked_at` and `User.active` drop the cached keys.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from meshclaw.context import AppContext
from meshclaw.db.models import ApiKey, User
from meshclaw.gateway.errors import GatewayError
from meshclaw.gateway.key_store import KeyState, load_key, recheck_keys, touch_keys
from meshclaw.identity.tokens import digest, key_prefix

log = logging.getLogger("meshclaw.gateway")

_NO_KEY = (
    "send a MeshClaw API key with the gateway scope as 'Authorization: Bearer <key>' or 'x-api-key: <key>'; "
    "create one with `meshclaw keys create --user <email> --name <name> --scope gateway`"
)
_BAD_KEY = (
    "API key is unknown, revoked or expired; create a new one with `meshclaw keys create --scope gateway`"
)
_NO_SCOPE = (
    "this API key does not have the gateway scope; create one with `meshclaw keys create --scope gateway`"
)
MAX_UNKNOWN = 10_000


class KeyCache:
    def __init__(self, context: AppContext, *, refresh_s: float = 1.0) -> None:
        self._context = context
        self.refresh_s = refresh_s
        self._known: dict[str, KeyState] = {}
        self._unknown: set[str] = set()
        self._used: set[int] = set()
        self.after_refresh: list[Callable[[], None]] = []
        """Extra work for the refresh thread (the gateway reloads provider routes there)."""

    async def authenticate(self, secret: str | None) -> KeyState:
        if not secret:
            raise GatewayError(401, _NO_KEY, code="missing_api_key")
        if key_prefix(secret) is None:
            raise GatewayError(401, _BAD_KEY, code="invalid_api_key")
        secret_digest = digest(secret)
        state = self._known.get(secret_digest)
        if state is None:
            if secret_digest in self._unknown:
                raise GatewayError(401, _BAD_KEY, code="invalid_api_key")
            state = await asyncio.to_thread(self._load, secret_digest)
            if state is None:
                if len(self._unknown) < MAX_UNKNOWN:
                    self._unknown.add(secret_digest)
                raise GatewayError(401, _BAD_KEY, code="invalid_api_key")
            self._known[secret_digest] = state
        if state.expires_at is not None and time.time() >= state.expires_at:
            self._known.pop(secret_digest, None)
            raise GatewayError(401, _BAD_KEY, code="invalid_api_key")
        if not state.gateway_scope:
            raise GatewayError(403, _NO_SCOPE, code="insufficient_scope")
        self._used.add(state.key_id)
        return state

    def forget(self, *, key_id: int | None = None, user_id: int | None = None) -> None:
        """Drop a key, or every key of a person, at once. May run on any thread: the table is replaced,
        never changed in place."""
        self._known = {d: s for d, s in self._known.items() if s.key_id != key_id and s.user_id != user_id}

    def watch(self) -> None:
        event.listen(ApiKey.revoked_at, "set", self._on_revoked)
        event.listen(User.active, "set", self._on_active)

    def unwatch(self) -> None:
        for attribute, listener in ((ApiKey.revoked_at, self._on_revoked), (User.active, self._on_active)):
            if event.contains(attribute, "set", listener):
                event.remove(attribute, "set", listener)

    def _on_revoked(self, target: ApiKey, value: Any, *_: Any) -> None:
        if value is not None and target.id is not None:
            self.forget(key_id=target.id)

    def _on_active(self, target: User, value: Any, *_: Any) -> None:
        if value is False and target.id is not None:
            self.forget(user_id=target.id)

    def _load(self, secret_digest: str) -> KeyState | None:
        with self._context.db.session() as session:
            return load_key(session, secret_digest, now=self._context.clock.now())

    async def run(self) -> None:
        """Refresh forever (until cancelled); one failed refresh is logged and retried next time."""
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("refreshing gateway keys failed; keeping the cached ones")

    async def refresh(self) -> None:
        used, self._used = self._used, set()
        ids = {state.key_id for state in self._known.values()}
        live = await asyncio.to_thread(self._recheck, ids, used)
        # Swapped in on the event loop thread, so requests never see a half-built table.
        self._known = {d: live[s.key_id] for d, s in self._known.items() if s.key_id in live}
        self._unknown = set()

    def _recheck(self, ids: set[int], used: set[int]) -> dict[int, KeyState]:
        now = self._context.clock.now()
        with self._context.db.session() as session:
            touch_keys(session, used, now=now)
            live = recheck_keys(session, ids, now=now)
        for task in self.after_refresh:
            task()
        return live

    async def close(self) -> None:
        """Write the last-used times not written yet."""
        used, self._used = self._used, set()
        if used:
            await asyncio.to_thread(self._recheck, set(), used)
