"""Run checkpoints: the recorded result of each model request and tool call of a durable run, which a
replay after a crash answers from (`meshclaw.runs.checkpoints`). They were DBOS steps before; DBOS still
keeps the workflow's own steps (begin, approvals, finish) and runs begun before this revision.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 07:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_checkpoints",
        sa.Column("run_id", sa.String(length=120), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("result", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "seq", name=op.f("pk_run_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("run_checkpoints")
