"""Kill switches per agent, per user and for the organization, and owner notifications (filled by the kill-switch and budgets work).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 18:30:00
"""

from __future__ import annotations

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
