"""Clarity: adoption goals, leaderboard settings, tokenmaxxing flags and their reviews.

Also an index on activity_events.occurred_at: the detector reads a week of everyone's activity.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 12:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meshclaw.db.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clarity_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("weekly_goal", sa.Float(), nullable=False),
        sa.Column("active_min_days", sa.Integer(), nullable=False),
        sa.Column("active_min_accepted", sa.Integer(), nullable=False),
        sa.Column("minutes_saved", sa.JSON(), nullable=False),
        sa.Column("weekly_token_target", sa.Integer(), nullable=True),
        sa.Column("updated_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_clarity_settings_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clarity_settings")),
        sa.UniqueConstraint("org_id", name=op.f("uq_clarity_settings_org_id")),
    )
    op.create_table(
        "clarity_team_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("leaderboard_enabled", sa.Boolean(), nullable=False),
        sa.Column("leaderboard_enabled_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("target_introduced_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["teams.id"],
            name=op.f("fk_clarity_team_settings_team_id_teams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clarity_team_settings")),
        sa.UniqueConstraint("team_id", name=op.f("uq_clarity_team_settings_team_id")),
    )
    op.create_table(
        "clarity_flags",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("subject_key", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=320), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("pattern", sa.String(length=400), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("signals", sa.JSON(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("detected_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by_user_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clarity_flags")),
        sa.UniqueConstraint("week_start", "subject_key", name="uq_clarity_flags_week_subject"),
    )
    with op.batch_alter_table("clarity_flags", schema=None) as batch_op:
        batch_op.create_index("ix_clarity_flags_subject_status", ["subject_key", "status"], unique=False)
        batch_op.create_index("ix_clarity_flags_user_week", ["user_id", "week_start"], unique=False)
    op.create_table(
        "clarity_detection_runs",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("ran_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("week_start", name=op.f("pk_clarity_detection_runs")),
    )
    with op.batch_alter_table("activity_events", schema=None) as batch_op:
        batch_op.create_index("ix_activity_events_occurred_at", ["occurred_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("activity_events", schema=None) as batch_op:
        batch_op.drop_index("ix_activity_events_occurred_at")
    op.drop_table("clarity_detection_runs")
    with op.batch_alter_table("clarity_flags", schema=None) as batch_op:
        batch_op.drop_index("ix_clarity_flags_user_week")
        batch_op.drop_index("ix_clarity_flags_subject_status")
    op.drop_table("clarity_flags")
    op.drop_table("clarity_team_settings")
    op.drop_table("clarity_settings")
