"""Approval records: each pending tool call's exact action, its decision and who made it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meshclaw.db.base

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_AT = meshclaw.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=120), nullable=False),
        sa.Column("tool_call_id", sa.String(length=200), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("tool", sa.String(length=200), nullable=False),
        sa.Column("effect", sa.String(length=24), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("args_digest", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_at", _AT, nullable=False),
        sa.Column("expires_at", _AT, nullable=False),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", _AT, nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("approved_args", sa.JSON(), nullable=True),
        sa.Column("used_at", _AT, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
    )
    op.create_index("ix_approvals_run", "approvals", ["run_id"], unique=False)
    op.create_index("ix_approvals_status_owner", "approvals", ["status", "owner_user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_approvals_status_owner", table_name="approvals")
    op.drop_index("ix_approvals_run", table_name="approvals")
    op.drop_table("approvals")
