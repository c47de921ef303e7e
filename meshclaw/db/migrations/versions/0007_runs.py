"""Runs: `runs` (one per execution of an agent version; id = the DBOS workflow id), `run_steps` (model
calls, tool calls and notes, unique per run and sequence number) and `run_webhooks` (agents' inbound
webhook token hashes).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meshclaw.db.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("agent_version_id", sa.Integer(), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("started_by_user_id", sa.Integer(), nullable=True),
        sa.Column("trigger_kind", sa.String(length=12), nullable=False),
        sa.Column("trigger_detail", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("input", sa.JSON(), nullable=False),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("parent_run_id", sa.String(length=120), nullable=True),
        sa.Column("created_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index("ix_runs_agent_created", "runs", ["agent_id", "created_at"], unique=False)
    op.create_index("ix_runs_owner_created", "runs", ["owner_user_id", "created_at"], unique=False)
    op.create_index("ix_runs_status", "runs", ["status"], unique=False)
    op.create_table(
        "run_steps",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.String(length=120), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("effect_class", sa.String(length=24), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_steps")),
        sa.UniqueConstraint("run_id", "seq", name="uq_run_steps_run_seq"),
    )
    op.create_table(
        "run_webhooks",
        sa.Column("agent_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_run_webhooks")),
    )


def downgrade() -> None:
    op.drop_table("run_webhooks")
    op.drop_table("run_steps")
    op.drop_index("ix_runs_status", table_name="runs")
    op.drop_index("ix_runs_owner_created", table_name="runs")
    op.drop_index("ix_runs_agent_created", table_name="runs")
    op.drop_table("runs")
