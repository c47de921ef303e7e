"""The migrations build exactly the schema the models declare, on SQLite and PostgreSQL: a model change
without its migration (or a hand-edited migration that drifted) fails here, not in production."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import meshclaw.db.models  # noqa: F401  (registers every table on Base.metadata)
from meshclaw.context import AppContext
from meshclaw.db.base import Base
from meshclaw.db.migrate import current_revision, head_revision
from meshclaw.db.schema_filter import include_object
from tests.postgres import BOTH_BACKENDS


@BOTH_BACKENDS
def test_migrated_schema_matches_the_models(context: AppContext) -> None:
    assert current_revision(context.db) == head_revision()
    with context.db.engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"include_object": include_object}), Base.metadata
        )
    assert differences == []
