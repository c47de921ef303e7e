"""A database migrated once per session and copied for each test: import `database_url`,
`migrated_sqlite` and `migrated_postgres` into a conftest to replace tests/conftest.py's `database_url`.

Migrating a fresh database costs seconds per test on a loaded machine, more than most tests take. The
copies are real, separate databases: the SQLite file copied, the PostgreSQL database created from the
migrated one as a template.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from psycopg import sql

from meshclaw.db.engine import Database
from meshclaw.db.migrate import upgrade
from tests.postgres import PostgresServer


def _migrated(url: str) -> None:
    db = Database(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        upgrade(db)
    finally:
        db.dispose()  # the last connection to close checkpoints SQLite's WAL into the file


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template-db") / "meshclaw.db"
    _migrated(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def migrated_postgres(postgres_server: PostgresServer) -> str:
    name = postgres_server.create_database("template")
    _migrated(postgres_server.url(name))
    return name


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if getattr(request, "param", "sqlite") == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        template: str = request.getfixturevalue("migrated_postgres")
        name = f"test_{uuid.uuid4().hex[:16]}"
        with server.admin_connection() as connection:
            connection.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        request.addfinalizer(lambda: server.drop_database(name))
        return server.url(name)
    path = tmp_path / "meshclaw.db"
    shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
    return f"sqlite:///{path}"
