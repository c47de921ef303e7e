"""The policy gate's data: the organization's egress allowlist and admins' pre-approved patterns per agent.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meshclaw.db.base

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_AT = meshclaw.db.base.UTCDateTime(timezone=True)


def _common() -> list[sa.Column[object]]:
    return [
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("removed_at", _AT, nullable=True),
        sa.Column("removed_by_user_id", sa.Integer(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "egress_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        *_common(),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_egress_rules_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_egress_rules")),
    )
    op.create_index("ix_egress_rules_org_active", "egress_rules", ["org_id", "removed_at"])
    op.create_table(
        "preapprovals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("tool", sa.String(length=200), nullable=False),
        sa.Column("constraints", sa.JSON(), nullable=False),
        *_common(),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_preapprovals_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_preapprovals_agent_id_agents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preapprovals")),
    )
    op.create_index("ix_preapprovals_agent_active", "preapprovals", ["agent_id", "removed_at"])


def downgrade() -> None:
    op.drop_index("ix_preapprovals_agent_active", table_name="preapprovals")
    op.drop_table("preapprovals")
    op.drop_index("ix_egress_rules_org_active", table_name="egress_rules")
    op.drop_table("egress_rules")
