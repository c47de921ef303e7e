"""A database migrated once per session and copied for each test: tests/conftest.py's `database_url`,
so every fixture built on it (`context`, `client`, `live_server`, the gateway's and ingest's servers)
starts from a migrated database without migrating it again.

Migrating a fresh database costs seconds per test on a loaded machine, more than most tests take (and
even the no-op check of an already migrated one costs ~0.1 s). The copies are real, separate databases:
the SQLite file copied, the PostgreSQL database created from the migrated one as a template. The
migrations themselves still run from scratch once per session and backend, and tests/db checks the
schema they build.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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


class PostgresCopies:
    """Copies of the migrated PostgreSQL database, the next one made ahead on a thread of its own.

    `CREATE DATABASE ... TEMPLATE` takes from a few hundred milliseconds to seconds on the loaded test
    machine; made while the previous test runs, the PostgreSQL server does it on the other core and the
    next test finds its database ready. Each copy is still a fresh database, used by one test only.
    """

    def __init__(self, server: PostgresServer, template: str) -> None:
        self.server = server
        self.template = template
        self._maker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postgres-copies")
        self._next: Future[str] | None = None

    def _copy(self) -> str:
        name = f"test_{uuid.uuid4().hex[:16]}"
        with self.server.admin_connection() as connection:
            connection.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(self.template)
                )
            )
        return name

    def take(self) -> str:
        """A new database's name; the caller drops it."""
        made = self._next or self._maker.submit(self._copy)
        self._next = self._maker.submit(self._copy)
        return made.result()

    def close(self) -> None:
        if self._next is not None:
            self.server.drop_database(self._next.result())
        self._maker.shutdown()


@pytest.fixture(scope="session")
def postgres_copies(postgres_server: PostgresServer, migrated_postgres: str) -> Iterator[PostgresCopies]:
    copies = PostgresCopies(postgres_server, migrated_postgres)
    yield copies
    copies.close()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated SQLite file in the test's own directory, unless parametrized (indirectly) with
    "postgresql": then a migrated database of its own on the session's PostgreSQL server.
    `tests.postgres.BOTH_BACKENDS` runs a test on both."""
    if getattr(request, "param", "sqlite") == "postgresql":
        copies: PostgresCopies = request.getfixturevalue("postgres_copies")
        name = copies.take()
        request.addfinalizer(lambda: copies.server.drop_database(name))
        return copies.server.url(name)
    path = tmp_path / "meshclaw.db"
    shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
    return f"sqlite:///{path}"
