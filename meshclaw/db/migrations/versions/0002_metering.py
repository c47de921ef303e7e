"""Metering: providers, versioned model prices, usage/outcome/activity events and their hour/day rollups.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 09:05:54.242389
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meshclaw.db.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activity_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("occurred_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("client", sa.String(length=200), nullable=True),
        sa.Column("session_id", sa.String(length=200), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_activity_events_event_id")),
    )
    with op.batch_alter_table("activity_events", schema=None) as batch_op:
        batch_op.create_index("ix_activity_events_session", ["session_id"], unique=False)
        batch_op.create_index("ix_activity_events_user_occurred", ["user_id", "occurred_at"], unique=False)

    op.create_table(
        "model_prices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("effective_from", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("input_uncached", sa.Float(), nullable=False),
        sa.Column("cache_read", sa.Float(), nullable=False),
        sa.Column("cache_write", sa.Float(), nullable=False),
        sa.Column("output", sa.Float(), nullable=False),
        sa.Column("reasoning", sa.Float(), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_prices")),
    )
    with op.batch_alter_table("model_prices", schema=None) as batch_op:
        batch_op.create_index("ix_model_prices_model_from", ["model", "effective_from"], unique=False)

    op.create_table(
        "outcome_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=80), nullable=False),
        sa.Column("occurred_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=True),
        sa.Column("minutes_saved", sa.Float(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("client", sa.String(length=200), nullable=True),
        sa.Column("session_id", sa.String(length=200), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outcome_events_event_id")),
    )
    with op.batch_alter_table("outcome_events", schema=None) as batch_op:
        batch_op.create_index("ix_outcome_events_agent_occurred", ["agent_id", "occurred_at"], unique=False)
        batch_op.create_index("ix_outcome_events_occurred_at", ["occurred_at"], unique=False)
        batch_op.create_index("ix_outcome_events_user_occurred", ["user_id", "occurred_at"], unique=False)

    op.create_table(
        "outcome_rollups",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bucket", sa.String(length=5), nullable=False),
        sa.Column("bucket_start", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=80), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("accepted", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("minutes_saved", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_rollups")),
        sa.UniqueConstraint(
            "bucket",
            "bucket_start",
            "user_id",
            "team_id",
            "agent_id",
            "type",
            "source",
            name="uq_outcome_rollups_key",
        ),
    )
    with op.batch_alter_table("outcome_rollups", schema=None) as batch_op:
        batch_op.create_index("ix_outcome_rollups_bucket_start", ["bucket", "bucket_start"], unique=False)

    op.create_table(
        "providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("api_key_env", sa.String(length=100), nullable=True),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
        sa.UniqueConstraint("name", name=op.f("uq_providers_name")),
    )
    op.create_table(
        "usage_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("started_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("provider", sa.String(length=100), nullable=True),
        sa.Column("operation", sa.String(length=40), nullable=False),
        sa.Column("requested_model", sa.String(length=200), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("input_uncached", sa.BigInteger(), nullable=False),
        sa.Column("cache_read", sa.BigInteger(), nullable=False),
        sa.Column("cache_write", sa.BigInteger(), nullable=False),
        sa.Column("output", sa.BigInteger(), nullable=False),
        sa.Column("reasoning", sa.BigInteger(), nullable=False),
        sa.Column("raw_usage", sa.JSON(), nullable=True),
        sa.Column("cost_microusd", sa.BigInteger(), nullable=False),
        sa.Column("price_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("client", sa.String(length=200), nullable=True),
        sa.Column("initiator", sa.String(length=10), nullable=False),
        sa.Column("prompt_hash", sa.String(length=32), nullable=True),
        sa.Column("session_id", sa.String(length=200), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_usage_events_event_id")),
    )
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_events_agent_started",
            ["agent_id", "started_at"],
            unique=False,
            sqlite_where=sa.text("agent_id IS NOT NULL"),
            postgresql_where=sa.text("agent_id IS NOT NULL"),
        )
        batch_op.create_index("ix_usage_events_started_at", ["started_at"], unique=False)
        batch_op.create_index("ix_usage_events_user_started", ["user_id", "started_at"], unique=False)

    op.create_table(
        "usage_rollups",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bucket", sa.String(length=5), nullable=False),
        sa.Column("bucket_start", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("initiator", sa.String(length=10), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("input_uncached", sa.BigInteger(), nullable=False),
        sa.Column("cache_read", sa.BigInteger(), nullable=False),
        sa.Column("cache_write", sa.BigInteger(), nullable=False),
        sa.Column("output", sa.BigInteger(), nullable=False),
        sa.Column("reasoning", sa.BigInteger(), nullable=False),
        sa.Column("cost_microusd", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_rollups")),
        sa.UniqueConstraint(
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
    )
    with op.batch_alter_table("usage_rollups", schema=None) as batch_op:
        batch_op.create_index("ix_usage_rollups_bucket_start", ["bucket", "bucket_start"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("usage_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_rollups_bucket_start")

    op.drop_table("usage_rollups")
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_events_user_started")
        batch_op.drop_index("ix_usage_events_started_at")
        batch_op.drop_index("ix_usage_events_agent_started")

    op.drop_table("usage_events")
    op.drop_table("providers")
    with op.batch_alter_table("outcome_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_outcome_rollups_bucket_start")

    op.drop_table("outcome_rollups")
    with op.batch_alter_table("outcome_events", schema=None) as batch_op:
        batch_op.drop_index("ix_outcome_events_user_occurred")
        batch_op.drop_index("ix_outcome_events_occurred_at")
        batch_op.drop_index("ix_outcome_events_agent_occurred")

    op.drop_table("outcome_events")
    with op.batch_alter_table("model_prices", schema=None) as batch_op:
        batch_op.drop_index("ix_model_prices_model_from")

    op.drop_table("model_prices")
    with op.batch_alter_table("activity_events", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_events_user_occurred")
        batch_op.drop_index("ix_activity_events_session")

    op.drop_table("activity_events")
