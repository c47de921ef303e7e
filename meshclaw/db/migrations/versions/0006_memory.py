"""Memory: per-agent items with provenance and validity, recall events, snapshots; full-text search.

Full-text search is dialect-specific and lives outside the models (`FULLTEXT_OBJECTS`):

- SQLite: an FTS5 table over `memory_items.content` with external content (no second copy of the text),
  kept in sync by three triggers. Porter stemming over unicode61, so "deploys" finds "deployment".
  A later migration that rebuilds `memory_items` in batch mode (SQLite's copy-and-rename) drops the
  triggers with the old table: it must call `_create_sqlite_fulltext` again (and `rebuild`).
- PostgreSQL: a stored generated `tsvector` column (English configuration, the same stemming idea) with
  a GIN index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meshclaw.db.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _create_sqlite_fulltext() -> None:
    op.execute(
        "CREATE VIRTUAL TABLE memory_items_fts USING fts5("
        "content, content='memory_items', content_rowid='id', "
        "tokenize='porter unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER memory_items_fts_insert AFTER INSERT ON memory_items BEGIN "
        "INSERT INTO memory_items_fts(rowid, content) VALUES (new.id, new.content); END"
    )
    op.execute(
        "CREATE TRIGGER memory_items_fts_delete AFTER DELETE ON memory_items BEGIN "
        "INSERT INTO memory_items_fts(memory_items_fts, rowid, content) VALUES ('delete', old.id, old.content); "
        "END"
    )
    op.execute(
        "CREATE TRIGGER memory_items_fts_update AFTER UPDATE OF content ON memory_items BEGIN "
        "INSERT INTO memory_items_fts(memory_items_fts, rowid, content) VALUES ('delete', old.id, old.content); "
        "INSERT INTO memory_items_fts(rowid, content) VALUES (new.id, new.content); END"
    )
    op.execute("INSERT INTO memory_items_fts(memory_items_fts) VALUES ('rebuild')")


def _create_postgresql_fulltext() -> None:
    op.execute(
        "ALTER TABLE memory_items ADD COLUMN search_vector tsvector "
        "GENERATED ALWAYS AS (to_tsvector('english', content)) STORED"
    )
    op.execute("CREATE INDEX ix_memory_items_search_vector ON memory_items USING gin (search_vector)")


def upgrade() -> None:
    op.create_table(
        "memory_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("importance", sa.Float(), nullable=False),
        sa.Column("origin", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("source_run_id", sa.String(length=64), nullable=True),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_by_user_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("valid_from", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_to", meshclaw.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("invalidated_reason", sa.String(length=500), nullable=True),
        sa.Column("superseded_by", sa.Integer(), nullable=True),
        sa.Column("recall_count", sa.Integer(), nullable=False),
        sa.Column("last_recalled_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_memory_items_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_user_id"], ["users.id"], name=op.f("fk_memory_items_confirmed_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"], ["users.id"], name=op.f("fk_memory_items_created_by_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memory_items")),
    )
    op.create_index("ix_memory_items_agent_content", "memory_items", ["agent_id", "content_hash"])
    op.create_index("ix_memory_items_agent_valid_to", "memory_items", ["agent_id", "valid_to"])
    op.create_table(
        "memory_recalls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("recalled_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_memory_recalls_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["memory_items.id"],
            name=op.f("fk_memory_recalls_item_id_memory_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memory_recalls")),
    )
    op.create_index("ix_memory_recalls_agent_recalled_at", "memory_recalls", ["agent_id", "recalled_at"])
    op.create_index(op.f("ix_memory_recalls_item_id"), "memory_recalls", ["item_id"])
    op.create_table(
        "memory_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("taken_at", meshclaw.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("taken_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_memory_snapshots_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["taken_by_user_id"], ["users.id"], name=op.f("fk_memory_snapshots_taken_by_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memory_snapshots")),
    )
    op.create_index("ix_memory_snapshots_agent_taken_at", "memory_snapshots", ["agent_id", "taken_at"])
    if op.get_bind().dialect.name == "sqlite":
        _create_sqlite_fulltext()
    else:
        _create_postgresql_fulltext()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS memory_items_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS memory_items_fts")
    op.drop_table("memory_snapshots")
    op.drop_table("memory_recalls")
    op.drop_table("memory_items")
