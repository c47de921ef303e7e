"""Audit tables: the hash-chained log of security-relevant events and its checkpoints.

`seq` is assigned by the appender (the chain head + 1, under a lock), not by the database, so the chain
has no gaps and a missing number means a deleted record. Structured values (arguments, taint sources,
external ids) are stored as the exact canonical JSON text that was hashed, so verification hashes the
same bytes that were written instead of a re-serialization that could drift between versions.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from meshclaw.db.base import Base, UTCDateTime

_SEQ = BigInteger().with_variant(Integer(), "sqlite")


class AuditEvent(Base):
    """One security-relevant event: a tool execution or denial, an approval, an admin action."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_at", "at"),
        Index("ix_audit_events_kind", "kind"),
        Index("ix_audit_events_actor_agent_id", "actor_agent_id"),
        Index("ix_audit_events_on_behalf_of_user_id", "on_behalf_of_user_id"),
        Index("ix_audit_events_tool", "tool"),
    )

    seq: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(60))
    actor_agent_id: Mapped[int | None] = mapped_column(Integer)
    on_behalf_of_user_id: Mapped[int | None] = mapped_column(Integer)
    invoked_by: Mapped[str | None] = mapped_column(String(120))
    target: Mapped[str | None] = mapped_column(String(200))
    tool: Mapped[str | None] = mapped_column(String(120))
    effect_class: Mapped[str | None] = mapped_column(String(30))
    args_digest: Mapped[str | None] = mapped_column(String(64))
    args_redacted: Mapped[str | None] = mapped_column(Text)
    taint_sources: Mapped[str | None] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(String(20))
    rule: Mapped[str | None] = mapped_column(String(120))
    approval_id: Mapped[str | None] = mapped_column(String(64))
    approver_user_id: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(30))
    external_ids: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(120))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """The chain head at some moment, MACed with the audit key; also appended to a file outside the
    database, so deleting the newest records (and their checkpoint rows) is still detected."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(_SEQ, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    mac: Mapped[str] = mapped_column(String(64))
