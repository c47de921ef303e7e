"""Alembic environment: runs against the engine handed over by `meshclaw.db.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

import meshclaw.db.models  # noqa: F401  (registers every table on the metadata)
from meshclaw.db.base import Base
from meshclaw.db.schema_filter import include_object

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through meshclaw.db.migrate, which passes the engine")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
