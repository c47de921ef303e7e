"""Metering tables: model upstreams, versioned prices, usage/outcome/activity events and their rollups.

Costs are integer micro-dollars (`cost_microusd`): sums stay exact on SQLite and PostgreSQL alike.
Rollup dimensions use 0 and '' instead of NULL so that one (bucket, dimensions) key is one row: SQL
unique constraints treat NULLs as distinct.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from meshclaw.db.base import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY


class Provider(Base):
    """A model upstream. The API key itself is never stored here: `api_key_env` names the variable."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    base_url: Mapped[str] = mapped_column(String(500))
    api_key_env: Mapped[str | None] = mapped_column(String(100))
    models: Mapped[list[str]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ModelPrice(Base):
    """USD per million tokens, per bucket, in force from `effective_from` until a newer row for the model.

    Rows are never edited: a price change is a new row, so the price used for any past event stays known.
    """

    __tablename__ = "model_prices"
    __table_args__ = (Index("ix_model_prices_model_from", "model", "effective_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime())
    input_uncached: Mapped[float] = mapped_column(Float)
    cache_read: Mapped[float] = mapped_column(Float)
    cache_write: Mapped[float] = mapped_column(Float)
    output: Mapped[float] = mapped_column(Float)
    reasoning: Mapped[float] = mapped_column(Float)
    created_by_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UsageEventRow(Base):
    """One model call. Indexed for listing by time, per person and per agent only: every index costs on
    ingestion (tens of thousands of rows per second), and team totals come from the rollups."""

    __tablename__ = "usage_events"
    __table_args__ = (
        Index("ix_usage_events_started_at", "started_at"),
        Index("ix_usage_events_user_started", "user_id", "started_at"),
        # Partial: most calls (gateway, OTLP) have no agent, and they should not pay for this index.
        Index(
            "ix_usage_events_agent_started",
            "agent_id",
            "started_at",
            sqlite_where=text("agent_id IS NOT NULL"),
            postgresql_where=text("agent_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    latency_ms: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))
    error: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(String(100))
    operation: Mapped[str] = mapped_column(String(40))
    requested_model: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    input_uncached: Mapped[int] = mapped_column(BigInteger)
    cache_read: Mapped[int] = mapped_column(BigInteger)
    cache_write: Mapped[int] = mapped_column(BigInteger)
    output: Mapped[int] = mapped_column(BigInteger)
    reasoning: Mapped[int] = mapped_column(BigInteger)
    raw_usage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    cost_microusd: Mapped[int] = mapped_column(BigInteger)
    price_id: Mapped[int | None] = mapped_column(Integer)
    user_id: Mapped[int | None] = mapped_column(Integer)
    team_id: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(String(64))
    api_key_id: Mapped[int | None] = mapped_column(Integer)
    client: Mapped[str | None] = mapped_column(String(200))
    initiator: Mapped[str] = mapped_column(String(10))
    prompt_hash: Mapped[str | None] = mapped_column(String(32))
    session_id: Mapped[str | None] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class OutcomeEventRow(Base):
    __tablename__ = "outcome_events"
    __table_args__ = (
        Index("ix_outcome_events_occurred_at", "occurred_at"),
        Index("ix_outcome_events_user_occurred", "user_id", "occurred_at"),
        Index("ix_outcome_events_agent_occurred", "agent_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    type: Mapped[str] = mapped_column(String(80))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(10))
    quantity: Mapped[float] = mapped_column(Float)
    accepted: Mapped[bool | None] = mapped_column(Boolean)
    minutes_saved: Mapped[float | None] = mapped_column(Float)
    user_id: Mapped[int | None] = mapped_column(Integer)
    team_id: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(200))
    session_id: Mapped[str | None] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ActivityEventRow(Base):
    __tablename__ = "activity_events"
    __table_args__ = (
        Index("ix_activity_events_user_occurred", "user_id", "occurred_at"),
        Index("ix_activity_events_session", "session_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[int | None] = mapped_column(Integer)
    team_id: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    client: Mapped[str | None] = mapped_column(String(200))
    session_id: Mapped[str | None] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class UsageRollup(Base):
    """Usage summed per hour or day and per dimension combination; dashboards read these, not events."""

    __tablename__ = "usage_rollups"
    __table_args__ = (
        UniqueConstraint(
            "bucket",
            "bucket_start",
            "user_id",
            "team_id",
            "agent_id",
            "model",
            "client",
            "source",
            "initiator",
            name="uq_usage_rollups_key",
        ),
        Index("ix_usage_rollups_bucket_start", "bucket", "bucket_start"),
        # One person's or one team's rows of a range (Clarity's person and team pages); without these a
        # page scans the whole organization's rows of the range for one person's few.
        Index("ix_usage_rollups_user_bucket", "user_id", "bucket", "bucket_start"),
        Index("ix_usage_rollups_team_bucket", "team_id", "bucket", "bucket_start"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bucket: Mapped[str] = mapped_column(String(5))
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime())
    user_id: Mapped[int] = mapped_column(Integer)
    team_id: Mapped[int] = mapped_column(Integer)
    agent_id: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(200))
    client: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(10))
    initiator: Mapped[str] = mapped_column(String(10))
    requests: Mapped[int] = mapped_column(BigInteger)
    errors: Mapped[int] = mapped_column(BigInteger)
    input_uncached: Mapped[int] = mapped_column(BigInteger)
    cache_read: Mapped[int] = mapped_column(BigInteger)
    cache_write: Mapped[int] = mapped_column(BigInteger)
    output: Mapped[int] = mapped_column(BigInteger)
    reasoning: Mapped[int] = mapped_column(BigInteger)
    cost_microusd: Mapped[int] = mapped_column(BigInteger)


class OutcomeRollup(Base):
    __tablename__ = "outcome_rollups"
    __table_args__ = (
        UniqueConstraint(
            "bucket",
            "bucket_start",
            "user_id",
            "team_id",
            "agent_id",
            "type",
            "source",
            name="uq_outcome_rollups_key",
        ),
        Index("ix_outcome_rollups_bucket_start", "bucket", "bucket_start"),
        Index("ix_outcome_rollups_user_bucket", "user_id", "bucket", "bucket_start"),
        Index("ix_outcome_rollups_team_bucket", "team_id", "bucket", "bucket_start"),
        Index("ix_outcome_rollups_agent_bucket", "agent_id", "bucket", "bucket_start"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bucket: Mapped[str] = mapped_column(String(5))
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime())
    user_id: Mapped[int] = mapped_column(Integer)
    team_id: Mapped[int] = mapped_column(Integer)
    agent_id: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(80))
    source: Mapped[str] = mapped_column(String(10))
    count: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[float] = mapped_column(Float)
    accepted: Mapped[int] = mapped_column(BigInteger)
    rejected: Mapped[int] = mapped_column(BigInteger)
    minutes_saved: Mapped[float] = mapped_column(Float)


class RollupDay(Base):
    """A counter per UTC day, raised by every write that changes that day's rollups.

    Readers that keep their own sums of the rollups (Clarity's day and week tables) store the version
    they summed; a day whose counter moved on since is stale for them, and they read its rollups instead.
    """

    __tablename__ = "rollup_days"

    day: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
