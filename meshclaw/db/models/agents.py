"""Agent tables: an agent (who owns it, whether it may run, which version is current) and its versions.

A version is immutable: the store only ever INSERTs into `agent_versions`, so a run that records the
version it ran can always show exactly the definition it ran with. `spec` is the validated `AgentSpec`
as JSON and `spec_digest` the SHA-256 of its canonical form, so "apply the same file again" is a digest
comparison rather than a JSON diff. `current_version_id` has no foreign key: the agent row is written
before its first version exists, and a cycle of foreign keys would make both inserts order-dependent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meshclaw.db.base import Base, UTCDateTime


class Agent(Base):
    """An agent acting for its owner. `enabled` is the kill switch: a disabled agent starts no run."""

    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("owner_user_id", "name", name="uq_agents_owner_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    owner_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    current_version_id: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AgentVersion(Base):
    """One saved definition of an agent, numbered 1..n per agent. Never updated after insert."""

    __tablename__ = "agent_versions"
    __table_args__ = (
        UniqueConstraint("agent_id", "number", name="uq_agent_versions_agent_number"),
        Index("ix_agent_versions_agent_digest", "agent_id", "spec_digest"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    spec_digest: Mapped[str] = mapped_column(String(64))
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
