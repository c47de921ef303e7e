"""Recall: search as an agent does it, leaving a trace. Each returned item gets a `memory_recalls` row
(run, query, position, score) and its `recall_count` and `last_recalled_at` bumped, which is what
nightly dreaming scores (how often, for how many different questions, how recently).

A person searching through the API uses `search.search` instead: browsing is not the agent using a
memory, and must not promote it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from meshclaw.agents.memory.search import Hit, search
from meshclaw.db.models import MemoryItem, MemoryRecall

MAX_QUERY = 1000


def recall(
    session: Session,
    *,
    agent_id: int,
    query: str,
    now: datetime,
    limit: int = 5,
    run_id: str | None = None,
    trusted_only: bool = False,
) -> list[Hit]:
    """The best matches for `query`, with each recorded as recalled."""
    hits = search(session, agent_id=agent_id, query=query, now=now, limit=limit, trusted_only=trusted_only)
    if not hits:
        return hits
    # Core statements, not ORM objects: a recall runs inside a tool call, and flushing unit-of-work
    # objects cost several times the search itself.
    session.execute(
        insert(MemoryRecall),
        [
            {
                "item_id": hit.memory.id,
                "agent_id": agent_id,
                "run_id": run_id,
                "query": query[:MAX_QUERY],
                "position": position,
                "score": hit.score,
                "recalled_at": now,
            }
            for position, hit in enumerate(hits, start=1)
        ],
    )
    session.execute(
        update(MemoryItem)
        .where(MemoryItem.id.in_([hit.memory.id for hit in hits]))
        .values(recall_count=MemoryItem.recall_count + 1, last_recalled_at=now)
        .execution_options(synchronize_session=False)
    )
    return hits
