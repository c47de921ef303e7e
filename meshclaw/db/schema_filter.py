"""Which database objects Alembic's comparison of models and schema should look at.

Full-text search objects are dialect-specific (an FTS5 table and its shadow tables on SQLite, a generated
`tsvector` column and GIN index on PostgreSQL), so they are created by their migration rather than
declared on the models. Without this filter every comparison would report them as objects to drop.
"""

from __future__ import annotations

from meshclaw.db.models.memory import FULLTEXT_OBJECTS


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic's `include_object` hook: skip the full-text objects that exist only in the database."""
    return not (reflected and compare_to is None and name in FULLTEXT_OBJECTS)
