"""Kill switches per agent, per user and for the organization, and owner notifications (filled by the kill-switch and budgets work).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meshclaw.db.base

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_AT = meshclaw.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kill_switches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("engaged_by_user_id", sa.Integer(), nullable=True),
        sa.Column("engaged_at", _AT, nullable=False),
        sa.Column("released_at", _AT, nullable=True),
        sa.Column("released_by_user_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kill_switches")),
    )
    op.create_index("ix_kill_switches_released", "kill_switches", ["released_at"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("read_at", _AT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index("ix_notifications_user_read", "notifications", ["user_id", "read_at"])


def downgrade() -> None:
    op.drop_index("ix_notifications_user_read", table_name="notifications")
    op.drop_table("notifications")
    op.drop_index("ix_kill_switches_released", table_name="kill_switches")
    op.drop_table("kill_switches")
