"""Approval records: one row per tool call a run waits on, with the exact action and its decision.

The row is the approval: a run resumes with what these rows say, never with what a client or the model's
history claims. `id` is a random 128-bit hex string, so an approval cannot be guessed or forged by
counting. `args` is exactly what the tool would run with; `approved_args` is set when a person edited them
before approving, and `args_digest` is always the digest of what may run (the edited arguments when set),
computed by the server.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from meshclaw.db.base import Base, UTCDateTime


class Approval(Base):
    __tablename__ = "approvals"
    __table_args__ = (
        Index("ix_approvals_run", "run_id"),
        Index("ix_approvals_status_owner", "status", "owner_user_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str] = mapped_column(String(120))
    tool_call_id: Mapped[str] = mapped_column(String(200))
    agent_id: Mapped[int] = mapped_column(Integer)
    owner_user_id: Mapped[int] = mapped_column(Integer)
    team_id: Mapped[int | None] = mapped_column(Integer)
    """The run's owner's team when the run started (a manager's reach)."""
    tool: Mapped[str] = mapped_column(String(200))
    effect: Mapped[str] = mapped_column(String(24))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The exact arguments the model asked for, as the tool would receive them."""
    args_digest: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the canonical JSON of what may run: `approved_args` when set, else `args`."""
    reason: Mapped[str] = mapped_column(Text)
    """Why the gate asked for a person."""
    status: Mapped[str] = mapped_column(String(12))
    """pending, approved, denied, expired, used."""
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by_user_id: Mapped[int | None] = mapped_column(Integer)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)
    """The decider's note; for a denial it is told to the agent."""
    approved_args: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The arguments as a person edited them before approving; None when approved as asked."""
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
