"""Audit: the hash-chained audit log (`audit_events`) and its checkpoints (`audit_checkpoints`).

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-01 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meshclaw.db.base

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = meshclaw.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", _SEQ, autoincrement=False, nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("actor_agent_id", sa.Integer(), nullable=True),
        sa.Column("on_behalf_of_user_id", sa.Integer(), nullable=True),
        sa.Column("invoked_by", sa.String(length=120), nullable=True),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("tool", sa.String(length=120), nullable=True),
        sa.Column("effect_class", sa.String(length=30), nullable=True),
        sa.Column("args_digest", sa.String(length=64), nullable=True),
        sa.Column("args_redacted", sa.Text(), nullable=True),
        sa.Column("taint_sources", sa.Text(), nullable=True),
        sa.Column("decision", sa.String(length=20), nullable=True),
        sa.Column("rule", sa.String(length=120), nullable=True),
        sa.Column("approval_id", sa.String(length=64), nullable=True),
        sa.Column("approver_user_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("external_ids", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(length=120), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_at", ["at"], unique=False)
        batch_op.create_index("ix_audit_events_kind", ["kind"], unique=False)
        batch_op.create_index("ix_audit_events_actor_agent_id", ["actor_agent_id"], unique=False)
        batch_op.create_index("ix_audit_events_on_behalf_of_user_id", ["on_behalf_of_user_id"], unique=False)
        batch_op.create_index("ix_audit_events_tool", ["tool"], unique=False)
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", _SEQ, autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        for name in ("tool", "on_behalf_of_user_id", "actor_agent_id", "kind", "at"):
            batch_op.drop_index(f"ix_audit_events_{name}")
    op.drop_table("audit_events")
