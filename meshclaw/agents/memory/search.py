"""Full-text search over one agent's valid items, on SQLite (FTS5, bm25) or PostgreSQL (tsvector,
ts_rank), the index migration 0006 created.

The query text comes from a model or a person, so none of it is passed as query syntax: it is cut into
words (letters and digits), each word becomes a quoted term (FTS5) or its own `plainto_tsquery`
(PostgreSQL), and the terms are OR-ed, so `"`, `(`, `AND`, `NEAR`, `*` or `:` are just text and the
ranking decides. OR rather than AND: a question ("what does Ada drink in the morning?") shares only some
words with the memory that answers it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Float, Integer, column, func, literal_column, select, table, text
from sqlalchemy.orm import Session

from meshclaw.agents.memory.store import Memory, active, memory_of
from meshclaw.db.models import MemoryItem

MAX_TERMS = 32
"""More words than this adds noise and cost, not recall."""
# fmt: off
STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do", "does", "for",
    "from", "had", "has", "have", "how", "i", "in", "is", "it", "its", "me", "my", "no", "not", "of", "on",
    "or", "our", "she", "he", "so", "than", "that", "the", "their", "them", "then", "there", "they",
    "this", "to", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with",
    "would", "you", "your",
))
# fmt: on
"""Words that match nearly every memory: OR-ing them in makes every item a candidate to rank (PostgreSQL's
English configuration drops them anyway; FTS5 does not). Kept when a query has nothing else."""
_WORD = re.compile(r"\w+", re.UNICODE)
_FTS = table("memory_items_fts", column("rowid", Integer))


@dataclass(frozen=True, kw_only=True)
class Hit:
    memory: Memory
    score: float
    """Higher is better: -bm25 on SQLite, ts_rank on PostgreSQL (not comparable across the two)."""


def search_terms(query: str) -> list[str]:
    """The distinct words of `query`, lower-cased, in order, without stop words, at most MAX_TERMS."""
    words = list(dict.fromkeys(word.lower() for word in _WORD.findall(query) if word.strip("_")))
    content = [word for word in words if word not in STOPWORDS]
    return (content or words)[:MAX_TERMS]


def fts5_match(terms: list[str]) -> str:
    """An FTS5 MATCH expression that is only quoted terms: no operator or column filter can appear."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _sqlite(
    session: Session, agent_id: int, terms: list[str], now: datetime, limit: int, trusted_only: bool
) -> list[Hit]:
    rank = literal_column("bm25(memory_items_fts)", Float)
    query = (
        select(MemoryItem, rank)
        .join(_FTS, _FTS.c.rowid == MemoryItem.id)
        .where(text("memory_items_fts MATCH :match").bindparams(match=fts5_match(terms)))
        .where(MemoryItem.agent_id == agent_id, active(now))
    )
    if trusted_only:
        query = query.where(MemoryItem.origin == "trusted")
    query = query.order_by(rank, MemoryItem.importance.desc(), MemoryItem.id.desc()).limit(limit)
    return [Hit(memory=memory_of(row), score=-float(score)) for row, score in session.execute(query)]


def _postgresql(
    session: Session, agent_id: int, terms: list[str], now: datetime, limit: int, trusted_only: bool
) -> list[Hit]:
    vector: ColumnElement[object] = literal_column("memory_items.search_vector")
    tsquery: ColumnElement[object] = func.plainto_tsquery("english", terms[0])
    for term in terms[1:]:
        tsquery = tsquery.op("||")(func.plainto_tsquery("english", term))
    rank = func.ts_rank(vector, tsquery, type_=Float)
    query = select(MemoryItem, rank).where(
        vector.op("@@")(tsquery), MemoryItem.agent_id == agent_id, active(now)
    )
    if trusted_only:
        query = query.where(MemoryItem.origin == "trusted")
    query = query.order_by(rank.desc(), MemoryItem.importance.desc(), MemoryItem.id.desc()).limit(limit)
    return [Hit(memory=memory_of(row), score=float(score)) for row, score in session.execute(query)]


def search(
    session: Session,
    *,
    agent_id: int,
    query: str,
    now: datetime,
    limit: int = 10,
    trusted_only: bool = False,
) -> list[Hit]:
    """The agent's items valid at `now` that match any word of `query`, best first. Logs nothing."""
    terms = search_terms(query)
    if not terms or limit < 1:
        return []
    if session.get_bind().dialect.name == "sqlite":
        return _sqlite(session, agent_id, terms, now, limit, trusted_only)
    return _postgresql(session, agent_id, terms, now, limit, trusted_only)
