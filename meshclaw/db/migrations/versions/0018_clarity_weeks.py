"""Clarity's week tables: usage summed per week (`clarity_usage_weeks`, with `clarity_summary_weeks`
marking the weeks written), adoption counted per team and week (`clarity_team_weeks`, stamped with the
rule and roster in `clarity_adoption_weeks`), and the data version a flag week was scored at.

The tables start empty and are filled by `meshclaw.clarity.summaries.refresh` (server start and
background); until then readers use the day tables and `clarity_person_weeks` as before. Weeks already
scored get no version, so the upkeep scores them once more and records it.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "clarity_usage_weeks",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("dimension", sa.String(length=10), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clarity_usage_weeks")),
        sa.UniqueConstraint("dimension", "week_start", "key", name="uq_clarity_usage_weeks_key"),
    )
    op.create_table(
        "clarity_summary_weeks",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("week_start", name=op.f("pk_clarity_summary_weeks")),
    )
    op.create_table(
        "clarity_team_weeks",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in ("active", "light", "moderate", "heavy", "automation_people")
        ),
        sa.Column("human_tokens", sa.BigInteger(), nullable=False),
        sa.Column("automation_tokens", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "week_start", "team_id", name=op.f("pk_clarity_team_weeks")),
    )
    op.create_table(
        "clarity_adoption_weeks",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("active_min_days", sa.Integer(), nullable=False),
        sa.Column("active_min_accepted", sa.Integer(), nullable=False),
        sa.Column("roster_key", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("org_id", "week_start", name=op.f("pk_clarity_adoption_weeks")),
    )
    with op.batch_alter_table("clarity_detection_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data_version", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clarity_detection_runs", schema=None) as batch_op:
        batch_op.drop_column("data_version")
    op.drop_table("clarity_adoption_weeks")
    op.drop_table("clarity_team_weeks")
    op.drop_table("clarity_summary_weeks")
    op.drop_table("clarity_usage_weeks")
