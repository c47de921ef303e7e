"""The `dreams` table: one row per night an agent dreamt, and the dream diary people read.

The diary is written for the owner, in sentences: what was merged into what, what was dropped and why,
what the bound held back, the tokens used and how to undo the night. It is never read back as memory
(a diary that fed the next night would let one bad night compound).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.db.models import Dream
from meshclaw.errors import NotFoundError

QUOTE = 90
"""A statement longer than this is cut in the diary (the item keeps all of it)."""


@dataclass(frozen=True, kw_only=True)
class DreamInfo:
    id: int
    agent_id: int
    run_id: str | None
    started_at: datetime
    window_start: datetime
    snapshot_id: int | None
    counts: dict[str, int]
    changes: list[dict[str, Any]]
    diary: str


def _info(row: Dream) -> DreamInfo:
    return DreamInfo(
        id=row.id,
        agent_id=row.agent_id,
        run_id=row.run_id,
        started_at=row.started_at,
        window_start=row.window_start,
        snapshot_id=row.snapshot_id,
        counts=dict(row.counts),
        changes=list(row.changes),
        diary=row.diary,
    )


def start(
    session: Session,
    *,
    agent_id: int,
    run_id: str | None,
    now: datetime,
    window_start: datetime,
    snapshot_id: int | None,
) -> DreamInfo:
    row = Dream(
        agent_id=agent_id,
        run_id=run_id,
        started_at=now,
        window_start=window_start,
        snapshot_id=snapshot_id,
        counts={},
        changes=[],
        diary="",
    )
    session.add(row)
    session.flush()
    return _info(row)


def finish(
    session: Session, dream_id: int, *, counts: dict[str, int], changes: list[dict[str, Any]], diary: str
) -> None:
    row = session.get(Dream, dream_id)
    if row is None:
        raise NotFoundError(f"no dream {dream_id}")
    row.counts, row.changes, row.diary = counts, changes, diary


def latest(session: Session, *, agent_id: int) -> DreamInfo | None:
    row = session.scalars(
        select(Dream)
        .where(Dream.agent_id == agent_id)
        .order_by(Dream.started_at.desc(), Dream.id.desc())
        .limit(1)
    ).first()
    return _info(row) if row is not None else None


def list_dreams(session: Session, *, agent_id: int, limit: int = 30) -> list[DreamInfo]:
    rows = session.scalars(
        select(Dream)
        .where(Dream.agent_id == agent_id)
        .order_by(Dream.started_at.desc(), Dream.id.desc())
        .limit(limit)
    )
    return [_info(row) for row in rows]


def get_dream(session: Session, *, agent_id: int, dream_id: int) -> DreamInfo:
    row = session.get(Dream, dream_id)
    if row is None or row.agent_id != agent_id:
        raise NotFoundError(f"agent {agent_id} has no dream {dream_id}")
    return _info(row)


def by_run(session: Session, run_id: str) -> DreamInfo | None:
    row = session.scalars(select(Dream).where(Dream.run_id == run_id)).first()
    return _info(row) if row is not None else None


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return f'"{flat}"' if len(flat) <= QUOTE else f'"{flat[: QUOTE - 1]}…"'


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def diary(
    *,
    dream_id: int,
    started_at: datetime,
    window_start: datetime,
    counts: dict[str, int],
    changes: Sequence[dict[str, Any]],
    snapshot_id: int,
    top: Sequence[tuple[int, float]] = (),
) -> str:
    """The night in sentences, for the agent's owner."""
    at = started_at.strftime("%Y-%m-%d %H:%M UTC")
    since = window_start.strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Dream {dream_id}, {at}",
        f"I went over {_plural(counts['candidates'], 'memory')} written since {since} "
        f"and {counts['prior']} held before.",
    ]
    merges = [c for c in changes if c["change"] == "merged"]
    if merges:
        lines.append(
            f"I merged {_plural(counts['merged_items'], 'near-duplicate')} into {_plural(len(merges), 'memory')}:"
        )
        for change in merges:
            lines.append(f"- #{change['into']} {_quote(change['content'])} ({change['by']}), from:")
            for item_id, content in zip(change["from"], change["from_contents"], strict=True):
                lines.append(f"    #{item_id} {_quote(content)}")
    else:
        lines.append("I found nothing to merge.")
    drops = [c for c in changes if c["change"] == "dropped"]
    if drops:
        lines.append(
            f"I let go of {_plural(len(drops), 'memory')} of untrusted origin that no person confirmed:"
        )
        for change in drops:
            run = f", written by run {change['source_run_id']}" if change.get("source_run_id") else ""
            lines.append(f"- #{change['item']} {_quote(change['content'])}{run}")
    if counts["drops_deferred"]:
        lines.append(
            f"I kept {_plural(counts['drops_deferred'], 'untrusted memory')} for a later night: one night may drop "
            f"at most {counts['max_drops']} of the {counts['prior']} memories held before."
        )
    if top:
        lines.append(
            "Strongest of the day: " + ", ".join(f"#{item_id} ({value:.2f})" for item_id, value in top) + "."
        )
    lines.append(f"Model tokens used: {counts['tokens']}.")
    lines.append(
        f"Snapshot {snapshot_id} holds my memory as it was before tonight; restoring it undoes this dream."
    )
    return "\n".join(lines)
