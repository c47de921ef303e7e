"""The gateway's SQL on API keys: load one key by its digest, re-check a set of cached keys, and stamp
last-used times in one statement per refresh instead of one write per request."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from meshclaw.db.models import ApiKey, User
from meshclaw.identity.principal import KeyScope


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyState:
    """What the gateway needs to know about a live key, as of the last read."""

    key_id: int
    user_id: int
    team_id: int | None
    gateway_scope: bool
    expires_at: float | None
    """POSIX seconds, or None for a key that does not expire."""


def _state(key: ApiKey, user: User) -> KeyState:
    return KeyState(
        key_id=key.id,
        user_id=user.id,
        team_id=user.team_id,
        gateway_scope=KeyScope.GATEWAY.value in (key.scopes or ()),
        expires_at=key.expires_at.timestamp() if key.expires_at is not None else None,
    )


def _live(key: ApiKey, user: User | None, now: datetime) -> bool:
    return (
        key.revoked_at is None
        and (key.expires_at is None or key.expires_at > now)
        and user is not None
        and user.active
    )


def load_key(session: Session, secret_digest: str, *, now: datetime) -> KeyState | None:
    """The live key with this digest, or None if it is unknown, revoked, expired or its owner is inactive.
    Keys owned by agents (no owning person) are not gateway keys yet."""
    row = session.execute(
        select(ApiKey, User)
        .join(User, User.id == ApiKey.owner_user_id)
        .where(ApiKey.secret_hash == secret_digest)
    ).first()
    if row is None or not _live(row[0], row[1], now):
        return None
    return _state(row[0], row[1])


def recheck_keys(session: Session, key_ids: Collection[int], *, now: datetime) -> dict[int, KeyState]:
    """The still-live keys among `key_ids`, with their owners' current teams."""
    if not key_ids:
        return {}
    rows = session.execute(
        select(ApiKey, User).join(User, User.id == ApiKey.owner_user_id).where(ApiKey.id.in_(list(key_ids)))
    ).all()
    return {key.id: _state(key, user) for key, user in rows if _live(key, user, now)}


def touch_keys(session: Session, key_ids: Collection[int], *, now: datetime) -> None:
    if key_ids:
        session.execute(update(ApiKey).where(ApiKey.id.in_(list(key_ids))).values(last_used_at=now))
