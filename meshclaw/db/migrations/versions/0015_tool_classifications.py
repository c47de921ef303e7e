"""Admins' effect classes for MCP tools, keyed by the server's configuration.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meshclaw.db.base

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_AT = meshclaw.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tool_classifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("server_key", sa.String(length=64), nullable=False),
        sa.Column("server_label", sa.String(length=500), nullable=False),
        sa.Column("tool", sa.String(length=200), nullable=False),
        sa.Column("effect", sa.String(length=24), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("removed_at", _AT, nullable=True),
        sa.Column("removed_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_tool_classifications_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_classifications")),
    )
    op.create_index(
        "ix_tool_classifications_server", "tool_classifications", ["org_id", "server_key", "removed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_tool_classifications_server", table_name="tool_classifications")
    op.drop_table("tool_classifications")
