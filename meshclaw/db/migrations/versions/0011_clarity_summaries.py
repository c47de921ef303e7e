"""Clarity's sums of the daily rollups (per day and dimension, per person and week), the `rollup_days`
versions that say which days they are current for, and per-person, per-team and per-agent indexes on the
rollups.

Existing days get version 1 here; Clarity's tables start empty and are filled by
`meshclaw.clarity.summaries.refresh` (at server start and in the background). Until a day is summed, its
readers read its rollups, as before.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 15:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meshclaw.db.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_DAY = meshclaw.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rollup_days",
        sa.Column("day", _DAY, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_rollup_days")),
    )
    op.execute(
        "INSERT INTO rollup_days (day, version) SELECT bucket_start, 1 FROM usage_rollups WHERE bucket = 'day' "
        "UNION SELECT bucket_start, 1 FROM outcome_rollups WHERE bucket = 'day'"
    )
    op.create_table(
        "clarity_usage_days",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("dimension", sa.String(length=10), nullable=False),
        sa.Column("day", _DAY, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in (
                "requests",
                "errors",
                "input_uncached",
                "cache_read",
                "cache_write",
                "output",
                "reasoning",
                "cost_microusd",
            )
        ),
        sa.Column("effective_tokens", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clarity_usage_days")),
        sa.UniqueConstraint("dimension", "day", "key", name="uq_clarity_usage_days_key"),
    )
    op.create_table(
        "clarity_outcome_days",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("dimension", sa.String(length=10), nullable=False),
        sa.Column("day", _DAY, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("accepted", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("minutes_saved", sa.Float(), nullable=False),
        sa.Column("unpriced", sa.BigInteger(), nullable=False),
        sa.Column("value_units", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clarity_outcome_days")),
        sa.UniqueConstraint("dimension", "day", "key", name="uq_clarity_outcome_days_key"),
    )
    op.create_table(
        "clarity_person_weeks",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("human_days", sa.Integer(), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in (
                "human_requests",
                "human_tokens",
                "automation_requests",
                "automation_tokens",
                "accepted_outcomes",
            )
        ),
        sa.PrimaryKeyConstraint("week_start", "user_id", name=op.f("pk_clarity_person_weeks")),
    )
    with op.batch_alter_table("clarity_person_weeks", schema=None) as batch_op:
        batch_op.create_index("ix_clarity_person_weeks_user_week", ["user_id", "week_start"], unique=False)
    op.create_table(
        "clarity_summary_days",
        sa.Column("day", _DAY, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_clarity_summary_days")),
    )
    with op.batch_alter_table("usage_rollups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_rollups_user_bucket", ["user_id", "bucket", "bucket_start"], unique=False
        )
        batch_op.create_index(
            "ix_usage_rollups_team_bucket", ["team_id", "bucket", "bucket_start"], unique=False
        )
    with op.batch_alter_table("outcome_rollups", schema=None) as batch_op:
        for column in ("user", "team", "agent"):
            batch_op.create_index(
                f"ix_outcome_rollups_{column}_bucket",
                [f"{column}_id", "bucket", "bucket_start"],
                unique=False,
            )


def downgrade() -> None:
    with op.batch_alter_table("outcome_rollups", schema=None) as batch_op:
        for column in ("agent", "team", "user"):
            batch_op.drop_index(f"ix_outcome_rollups_{column}_bucket")
    with op.batch_alter_table("usage_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_rollups_team_bucket")
        batch_op.drop_index("ix_usage_rollups_user_bucket")
    op.drop_table("clarity_summary_days")
    with op.batch_alter_table("clarity_person_weeks", schema=None) as batch_op:
        batch_op.drop_index("ix_clarity_person_weeks_user_week")
    op.drop_table("clarity_person_weeks")
    op.drop_table("clarity_outcome_days")
    op.drop_table("clarity_usage_days")
    op.drop_table("rollup_days")
