"""Memory tables: what each agent remembers, when it recalled what, and snapshots for rollback.

An item is never edited into something else and never hard-deleted by consolidation: a wrong or outdated
item gets `valid_to` (and `superseded_by` when a newer item replaces it), so "what did the agent believe
on day D" stays answerable, as in Graphiti's bi-temporal edges. `origin` records whether the text could
have been written by an outsider (a run that had read an email, a web page, a chat message from someone
else); such items are kept but handled as untrusted until a person confirms them.

The full-text index is not declared here: it is dialect-specific and created by migration 0006 (an FTS5
external-content table kept in sync by triggers on SQLite, a generated `tsvector` column with a GIN index
on PostgreSQL). `FULLTEXT_OBJECTS` names those objects so schema comparison can leave them out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from meshclaw.db.base import Base, UTCDateTime

FULLTEXT_OBJECTS = frozenset(
    {
        # SQLite: the FTS5 table and the shadow tables FTS5 creates for it.
        "memory_items_fts",
        "memory_items_fts_data",
        "memory_items_fts_idx",
        "memory_items_fts_docsize",
        "memory_items_fts_config",
        # PostgreSQL: the generated column and its index.
        "search_vector",
        "ix_memory_items_search_vector",
    }
)
"""Schema objects migration 0006 creates outside the models (see `meshclaw.db.schema_filter`)."""


class MemoryItem(Base):
    """One thing an agent remembers."""

    __tablename__ = "memory_items"
    __table_args__ = (
        Index("ix_memory_items_agent_content", "agent_id", "content_hash"),
        Index("ix_memory_items_agent_valid_to", "agent_id", "valid_to"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the content with whitespace collapsed: how identical active content is found."""
    kind: Mapped[str] = mapped_column(String(12))
    """fact, preference, episode or note."""
    importance: Mapped[float] = mapped_column(Float)
    """0 to 1; what the writer thought it is worth. Dreaming scores with it."""
    origin: Mapped[str] = mapped_column(String(10))
    """trusted or untrusted (written by a run that had read content outsiders can write)."""
    source: Mapped[str] = mapped_column(String(10))
    """Who wrote it: tool (the agent, during a run), person (through the API), dream (consolidation)."""
    source_run_id: Mapped[str | None] = mapped_column(String(64))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """The person who added it, for source person."""
    confirmed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """The person who vouched for it; an untrusted item becomes trusted when confirmed."""
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """Set when invalidated (or known to expire); recall only sees items valid now."""
    invalidated_reason: Mapped[str | None] = mapped_column(String(500))
    superseded_by: Mapped[int | None] = mapped_column(Integer)
    """The item that replaced this one. No foreign key: a restored snapshot may point at a later item."""
    recall_count: Mapped[int] = mapped_column(Integer, default=0)
    last_recalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MemoryRecall(Base):
    """One item returned by one recall: what nightly dreaming scores (frequency, query diversity)."""

    __tablename__ = "memory_recalls"
    __table_args__ = (Index("ix_memory_recalls_agent_recalled_at", "agent_id", "recalled_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("memory_items.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(String(64))
    query: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    """1 for the best match of that recall."""
    score: Mapped[float] = mapped_column(Float)
    """The engine's relevance (higher is better): -bm25 on SQLite, ts_rank on PostgreSQL."""
    recalled_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MemorySnapshot(Base):
    """Every item of one agent at a moment, taken before a consolidation so it can be rolled back."""

    __tablename__ = "memory_snapshots"
    __table_args__ = (Index("ix_memory_snapshots_agent_taken_at", "agent_id", "taken_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str] = mapped_column(String(200))
    item_count: Mapped[int] = mapped_column(Integer)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """Each item's columns (except recall counters, which record history rather than belief)."""
    taken_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Dream(Base):
    """One night's consolidation of an agent's memory: what changed, the snapshot taken before, the diary."""

    __tablename__ = "dreams"
    __table_args__ = (Index("ix_dreams_agent_started_at", "agent_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    """The run (trigger kind `dream`) that dreamt it; unique, so a replayed run records one dream."""
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    """Items created since then were tonight's candidates; older active items are prior memory."""
    snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("memory_snapshots.id", ondelete="SET NULL"))
    """The snapshot taken before anything changed: restore it to undo the night."""
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    """candidates, merged_groups, merged_items, dropped_untrusted, drops_deferred, kept, tokens."""
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    """Each change with its provenance: merges (the new item and every item it replaced), drops."""
    diary: Mapped[str] = mapped_column(Text)
    """The readable account of the night, for people (never read back as memory)."""
