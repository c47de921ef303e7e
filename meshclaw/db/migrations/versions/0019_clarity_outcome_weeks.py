"""Clarity's outcome sums per week (`clarity_outcome_weeks`), written with the usage weeks.

A week marked in `clarity_summary_weeks` must have both tables written, so the marks are dropped here:
`meshclaw.clarity.summaries.refresh` (server start and background) writes every summed week again, newest
first, and until a week is written readers sum its days, as before.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 04:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "clarity_outcome_weeks",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("dimension", sa.String(length=10), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("accepted", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("minutes_saved", sa.Float(), nullable=False),
        sa.Column("unpriced", sa.BigInteger(), nullable=False),
        sa.Column("value_units", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clarity_outcome_weeks")),
        sa.UniqueConstraint("dimension", "week_start", "key", name="uq_clarity_outcome_weeks_key"),
    )
    op.execute("DELETE FROM clarity_summary_weeks")


def downgrade() -> None:
    op.drop_table("clarity_outcome_weeks")
