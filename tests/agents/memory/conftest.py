"""An agent to remember things for, on a migrated database (SQLite, or PostgreSQL with BOTH_BACKENDS).

Migrating a fresh database for every test cost more than most of these tests do, so each backend is
migrated once per session and every test gets a copy: the SQLite file copied, the PostgreSQL database
created from the migrated one as a template. The copies are real, separate databases, as before.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from psycopg import sql

from meshclaw.context import AppContext
from meshclaw.db.engine import Database
from meshclaw.db.migrate import upgrade
from meshclaw.db.models import Agent
from tests.conftest import People
from tests.postgres import PostgresServer

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _migrated(url: str) -> None:
    db = Database(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        upgrade(db)
    finally:
        db.dispose()  # the last connection to close checkpoints SQLite's WAL into the file


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("memory-template") / "meshclaw.db"
    _migrated(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def migrated_postgres(postgres_server: PostgresServer) -> str:
    name = postgres_server.create_database("memory_template")
    _migrated(postgres_server.url(name))
    return name


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Replaces tests/conftest.py's fixture of the same name: a copy of a database migrated once."""
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


def add_agent(context: AppContext, org_id: int, owner_user_id: int, name: str = "helper") -> int:
    with context.db.session() as session:
        agent = Agent(
            org_id=org_id, owner_user_id=owner_user_id, name=name, enabled=True, created_at=T0, updated_at=T0
        )
        session.add(agent)
        session.flush()
        return agent.id


@pytest.fixture
def agent_id(context: AppContext, org_id: int, people: People) -> int:
    return add_agent(context, org_id, people.add().id)
