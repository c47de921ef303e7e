"""Snapshots of an agent's memory, taken before a consolidation rewrites it, and restoring one.

A snapshot holds every item of the agent, valid or not, with what it believed about each (content,
kind, importance, origin, confirmation, validity, supersession). Restoring makes the agent's beliefs
those of the snapshot again without deleting anything: items added since are invalidated with the reason
`restored snapshot N`, items the snapshot held get their recorded state back. Recall counters are left as
they are: they record what happened, not what the agent believes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.db.models import MemoryItem, MemorySnapshot
from meshclaw.errors import NotFoundError

_BELIEF = (
    "content",
    "content_hash",
    "kind",
    "importance",
    "origin",
    "source",
    "source_run_id",
    "created_by_user_id",
    "confirmed_by_user_id",
    "confirmed_at",
    "valid_from",
    "valid_to",
    "invalidated_reason",
    "superseded_by",
    "created_at",
)
_TIMES = frozenset({"confirmed_at", "valid_from", "valid_to", "created_at"})


@dataclass(frozen=True, kw_only=True)
class SnapshotInfo:
    id: int
    agent_id: int
    taken_at: datetime
    reason: str
    item_count: int
    taken_by_user_id: int | None


@dataclass(frozen=True, kw_only=True)
class Restored:
    snapshot_id: int
    changed: int
    """Items whose state went back to the snapshot's."""
    invalidated: int
    """Items created after the snapshot, now invalid."""


def _info(row: MemorySnapshot) -> SnapshotInfo:
    return SnapshotInfo(
        id=row.id,
        agent_id=row.agent_id,
        taken_at=row.taken_at,
        reason=row.reason,
        item_count=row.item_count,
        taken_by_user_id=row.taken_by_user_id,
    )


def _dump(row: MemoryItem) -> dict[str, Any]:
    data: dict[str, Any] = {"id": row.id}
    for name in _BELIEF:
        value = getattr(row, name)
        data[name] = value.isoformat() if name in _TIMES and value is not None else value
    return data


def _load(name: str, value: Any) -> Any:
    return datetime.fromisoformat(value) if name in _TIMES and value is not None else value


def take_snapshot(
    session: Session, *, agent_id: int, reason: str, now: datetime, user_id: int | None = None
) -> SnapshotInfo:
    rows = session.scalars(select(MemoryItem).where(MemoryItem.agent_id == agent_id).order_by(MemoryItem.id))
    items = [_dump(row) for row in rows]
    snapshot = MemorySnapshot(
        agent_id=agent_id,
        taken_at=now,
        reason=reason.strip()[:200] or "snapshot",
        item_count=len(items),
        items=items,
        taken_by_user_id=user_id,
    )
    session.add(snapshot)
    session.flush()
    return _info(snapshot)


def list_snapshots(session: Session, *, agent_id: int, limit: int = 50) -> list[SnapshotInfo]:
    rows = session.scalars(
        select(MemorySnapshot)
        .where(MemorySnapshot.agent_id == agent_id)
        .order_by(MemorySnapshot.taken_at.desc(), MemorySnapshot.id.desc())
        .limit(limit)
    )
    return [_info(row) for row in rows]


def restore_snapshot(session: Session, *, agent_id: int, snapshot_id: int, now: datetime) -> Restored:
    snapshot = session.get(MemorySnapshot, snapshot_id)
    if snapshot is None or snapshot.agent_id != agent_id:
        raise NotFoundError(f"agent {agent_id} has no memory snapshot {snapshot_id}")
    recorded = {int(item["id"]): item for item in snapshot.items}
    rows = {row.id: row for row in session.scalars(select(MemoryItem).where(MemoryItem.agent_id == agent_id))}
    invalidated = 0
    for item_id, row in rows.items():
        if item_id not in recorded and (row.valid_to is None or row.valid_to > now):
            row.valid_to = now
            row.invalidated_reason = f"restored snapshot {snapshot_id}"
            invalidated += 1
    changed = 0
    for item_id, item in recorded.items():
        existing = rows.get(item_id)
        if existing is None:
            # Only an agent's deletion removes items (and then its snapshots go too); recreate defensively.
            row = MemoryItem(id=item_id, agent_id=agent_id, recall_count=0)
            session.add(row)
            before: dict[str, Any] = {}
        else:
            row = existing
            before = _dump(row)
        for name in _BELIEF:
            setattr(row, name, _load(name, item[name]))
        if _dump(row) != before:
            changed += 1
    session.flush()
    return Restored(snapshot_id=snapshot_id, changed=changed, invalidated=invalidated)
