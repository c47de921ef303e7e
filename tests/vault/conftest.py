"""Each test gets a copy of a database migrated once per session (tests/template_db.py)."""

from __future__ import annotations

from tests.template_db import database_url, migrated_postgres, migrated_sqlite  # noqa: F401
