"""Dreams: one row per night's memory consolidation of an agent (counts, changes, diary, snapshot).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meshclaw.db.base

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_AT = meshclaw.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dreams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", _AT, nullable=False),
        sa.Column("window_start", _AT, nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("diary", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_dreams_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["memory_snapshots.id"],
            name=op.f("fk_dreams_snapshot_id_memory_snapshots"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dreams")),
        sa.UniqueConstraint("run_id", name=op.f("uq_dreams_run_id")),
    )
    op.create_index("ix_dreams_agent_started_at", "dreams", ["agent_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_dreams_agent_started_at", table_name="dreams")
    op.drop_table("dreams")
