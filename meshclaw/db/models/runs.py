"""Run tables: one row per run of an agent version, one per step it took, and agents' webhook tokens.

These are MeshClaw's own record of what happened, and the checkpoints a replay answers model requests and
tool calls from (`run_checkpoints`); DBOS keeps its own tables for the rest of the workflow. Nothing
outside `meshclaw.runs` reads DBOS's, so the engine stays replaceable and the history survives a change
of engine. `runs.id` is the DBOS workflow id: a string, so a trigger can derive it (`cron:7:0:<slot>`)
and two processes firing the same slot collide on the primary key instead of running twice; that is also all
the bookkeeping schedules need (no "last fired" table).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from meshclaw.db.base import Base, UTCDateTime


class Run(Base):
    """One execution of an agent version. Totals are summed from its steps when it ends."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_agent_created", "agent_id", "created_at"),
        Index("ix_runs_owner_created", "owner_user_id", "created_at"),
        Index("ix_runs_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    org_id: Mapped[int] = mapped_column(Integer)
    agent_id: Mapped[int] = mapped_column(Integer)
    agent_version_id: Mapped[int] = mapped_column(Integer)
    owner_user_id: Mapped[int] = mapped_column(Integer)
    team_id: Mapped[int | None] = mapped_column(Integer)
    """The owner's team when the run was created, for managers' reach."""
    started_by_user_id: Mapped[int | None] = mapped_column(Integer)
    """Who pressed "run now" (None for triggers)."""
    trigger_kind: Mapped[str] = mapped_column(String(12))
    trigger_detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    mode: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(20))
    input: Mapped[dict[str, Any]] = mapped_column(JSON)
    output: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    parent_run_id: Mapped[str | None] = mapped_column(String(120))
    """The run this one resumes or was spawned by."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RunStep(Base):
    """One model call, tool call or note of a run, numbered from 1. (run, seq) is unique, so a step
    recorded again after a crash replaces nothing and adds nothing."""

    __tablename__ = "run_steps"
    __table_args__ = (UniqueConstraint("run_id", "seq", name="uq_run_steps_run_seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(120))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(200))
    effect_class: Mapped[str | None] = mapped_column(String(24))
    decision: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12))
    detail: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class RunCheckpoint(Base):
    """The recorded result of one checkpointed step of a durable run (a model response, a tool call's
    result or error), numbered from 1 in the order the run took them. Replay after a crash answers a step
    from here instead of asking the model or running the tool again (`meshclaw.runs.checkpoints`)."""

    __tablename__ = "run_checkpoints"

    run_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    """What the step was ("model.request" or the tool's name): a replay that takes another step diverged."""
    failed: Mapped[bool] = mapped_column(Boolean)
    """The step raised: `result` is the pickled exception, raised again on replay."""
    result: Mapped[bytes] = mapped_column(LargeBinary)
    """The pickled return value (or exception), as DBOS's default serializer keeps a step's output."""


class RunWebhook(Base):
    """The secret in an agent's inbound webhook URL. Only its SHA-256 is kept."""

    __tablename__ = "run_webhooks"

    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
