"""The SQL of memory items: write, invalidate, confirm, list. Callers authorize (the API) or are bound to
one agent by the runtime (the tools).

"Identical" content means equal after collapsing whitespace; remembering it again while an identical
item is active returns that item instead of a copy. A trusted write of content already held as untrusted
upgrades nothing: trust comes from a person's confirmation, not from repetition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from meshclaw.db.models import Agent, MemoryItem, User
from meshclaw.errors import InvalidInputError, NotFoundError

Origin = Literal["trusted", "untrusted"]
"""untrusted: written by a run that had read content outsiders can write (email, web, others' chat)."""
Source = Literal["tool", "person", "dream"]
Kind = Literal["fact", "preference", "episode", "note"]
State = Literal["active", "invalid", "all"]

MAX_CONTENT = 4000
"""A memory is a sentence or a paragraph; a page belongs in a document the agent can read."""


@dataclass(frozen=True, kw_only=True)
class Memory:
    """One item as the rest of MeshClaw sees it."""

    id: int
    agent_id: int
    content: str
    kind: str
    importance: float
    origin: str
    source: str
    source_run_id: str | None
    created_by_user_id: int | None
    confirmed_by_user_id: int | None
    confirmed_at: datetime | None
    valid_from: datetime
    valid_to: datetime | None
    invalidated_reason: str | None
    superseded_by: int | None
    recall_count: int
    last_recalled_at: datetime | None
    created_at: datetime

    def active_at(self, now: datetime) -> bool:
        return self.valid_from <= now and (self.valid_to is None or self.valid_to > now)


@dataclass(frozen=True, kw_only=True)
class Remembered:
    memory: Memory
    created: bool
    """False when an identical active item already existed and was returned instead."""


@dataclass(frozen=True, kw_only=True)
class AgentOwner:
    agent_id: int
    org_id: int
    owner_user_id: int
    owner_team_id: int | None


def memory_of(row: MemoryItem) -> Memory:
    return Memory(
        id=row.id,
        agent_id=row.agent_id,
        content=row.content,
        kind=row.kind,
        importance=row.importance,
        origin=row.origin,
        source=row.source,
        source_run_id=row.source_run_id,
        created_by_user_id=row.created_by_user_id,
        confirmed_by_user_id=row.confirmed_by_user_id,
        confirmed_at=row.confirmed_at,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        invalidated_reason=row.invalidated_reason,
        superseded_by=row.superseded_by,
        recall_count=row.recall_count,
        last_recalled_at=row.last_recalled_at,
        created_at=row.created_at,
    )


def normalize(content: str) -> str:
    return " ".join(content.split())


def content_hash(content: str) -> str:
    return hashlib.sha256(normalize(content).encode()).hexdigest()


def active(now: datetime) -> ColumnElement[bool]:
    """Items valid at `now`: started, and not invalidated or expired."""
    return and_(MemoryItem.valid_from <= now, or_(MemoryItem.valid_to.is_(None), MemoryItem.valid_to > now))


def _check_choice(value: str, allowed: object, field: str) -> None:
    choices = get_args(allowed)
    if value not in choices:
        raise InvalidInputError(f"{field} must be one of {', '.join(choices)}, not '{value}'", field=field)


def agent_owner(session: Session, agent_id: int) -> AgentOwner:
    """Whose agent this is (for authorization); NotFoundError when there is no such agent."""
    row = session.execute(
        select(Agent.id, Agent.org_id, Agent.owner_user_id, User.team_id)
        .join(User, User.id == Agent.owner_user_id)
        .where(Agent.id == agent_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no agent with id {agent_id}")
    return AgentOwner(agent_id=row[0], org_id=row[1], owner_user_id=row[2], owner_team_id=row[3])


def remember(
    session: Session,
    *,
    agent_id: int,
    content: str,
    origin: Origin,
    source: Source,
    now: datetime,
    run_id: str | None = None,
    kind: Kind = "fact",
    importance: float = 0.5,
    user_id: int | None = None,
    valid_to: datetime | None = None,
    supersedes: Sequence[int] = (),
) -> Remembered:
    """Store `content` for the agent, or return the identical active item.

    `origin` is required and never guessed: the runtime knows whether the run read untrusted content.
    `supersedes` invalidates older items this one replaces (consolidation), pointing them at it.
    """
    text = content.strip()
    if not text:
        raise InvalidInputError("content is empty: say what to remember", field="content")
    if "\x00" in text:
        # PostgreSQL cannot store NUL in text; refuse it on both databases so they behave alike.
        raise InvalidInputError("content contains a NUL character", field="content")
    if len(text) > MAX_CONTENT:
        raise InvalidInputError(
            f"content has {len(text)} characters; a memory may have at most {MAX_CONTENT}", field="content"
        )
    _check_choice(origin, Origin, "origin")
    _check_choice(source, Source, "source")
    _check_choice(kind, Kind, "kind")
    if not 0.0 <= importance <= 1.0:
        raise InvalidInputError("importance must be between 0 and 1", field="importance")
    if valid_to is not None and valid_to.tzinfo is None:
        raise InvalidInputError(
            "valid_to needs a UTC offset or 'Z', e.g. 2026-12-24T09:00:00Z", field="valid_to"
        )
    if valid_to is not None and valid_to <= now:
        raise InvalidInputError("valid_to must be in the future", field="valid_to")
    digest = content_hash(text)
    existing = session.scalars(
        select(MemoryItem)
        .where(MemoryItem.agent_id == agent_id, MemoryItem.content_hash == digest, active(now))
        .order_by(MemoryItem.id)
        .limit(1)
    ).first()
    if existing is not None:
        return Remembered(memory=memory_of(existing), created=False)
    row = MemoryItem(
        agent_id=agent_id,
        content=text,
        content_hash=digest,
        kind=kind,
        importance=importance,
        origin=origin,
        source=source,
        source_run_id=run_id,
        created_by_user_id=user_id,
        valid_from=now,
        valid_to=valid_to,
        recall_count=0,
        created_at=now,
    )
    session.add(row)
    session.flush()
    for old_id in supersedes:
        invalidate(
            session, agent_id=agent_id, item_id=old_id, now=now, reason="superseded", superseded_by=row.id
        )
    return Remembered(memory=memory_of(row), created=True)


def _item(session: Session, agent_id: int, item_id: int) -> MemoryItem:
    row = session.get(MemoryItem, item_id)
    if row is None or row.agent_id != agent_id:
        raise NotFoundError(f"agent {agent_id} has no memory item {item_id}")
    return row


def get_item(session: Session, *, agent_id: int, item_id: int) -> Memory:
    return memory_of(_item(session, agent_id, item_id))


def invalidate(
    session: Session,
    *,
    agent_id: int,
    item_id: int,
    now: datetime,
    reason: str = "",
    superseded_by: int | None = None,
) -> Memory:
    """End the item's validity now. Already invalid items keep their first end and reason."""
    row = _item(session, agent_id, item_id)
    if row.valid_to is None or row.valid_to > now:
        row.valid_to = now
        row.invalidated_reason = reason.strip()[:500] or None
        row.superseded_by = superseded_by
    return memory_of(row)


def confirm(session: Session, *, agent_id: int, item_id: int, user_id: int, now: datetime) -> Memory:
    """A person vouches for the item: an untrusted item becomes trusted, recording who and when."""
    row = _item(session, agent_id, item_id)
    if row.confirmed_by_user_id is None:
        row.confirmed_by_user_id = user_id
        row.confirmed_at = now
    row.origin = "trusted"
    return memory_of(row)


def list_items(
    session: Session,
    *,
    agent_id: int,
    now: datetime,
    state: State = "active",
    origin: Origin | None = None,
    kind: Kind | None = None,
    source: Source | None = None,
    run_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Memory]:
    """The agent's items, newest first, filtered."""
    query = select(MemoryItem).where(MemoryItem.agent_id == agent_id)
    if state == "active":
        query = query.where(active(now))
    elif state == "invalid":
        query = query.where(MemoryItem.valid_to.is_not(None), MemoryItem.valid_to <= now)
    if origin is not None:
        query = query.where(MemoryItem.origin == origin)
    if kind is not None:
        query = query.where(MemoryItem.kind == kind)
    if source is not None:
        query = query.where(MemoryItem.source == source)
    if run_id is not None:
        query = query.where(MemoryItem.source_run_id == run_id)
    query = query.order_by(MemoryItem.created_at.desc(), MemoryItem.id.desc()).limit(limit).offset(offset)
    return [memory_of(row) for row in session.scalars(query)]
