"""A real PostgreSQL server for the test suite: started once per session, one fresh database per test.

The server is Debian's PostgreSQL 15 run from a throw-away data directory (`initdb` + `pg_ctl`), listening
on 127.0.0.1 on a free port, with its unix socket in the same temporary directory, so it never touches a
system cluster. PostgreSQL refuses to run as root, and the suite usually runs as root, so the server runs
as the `postgres` OS user then. Durability is switched off (`fsync=off` and friends): the data is thrown
away at the end of the session, and it makes `CREATE DATABASE` per test cost a few tens of milliseconds,
which is what keeps tests independent without being slow.

Use it through the `database_url` fixture (tests/template_db.py: a migrated copy per test), parametrized
with `BOTH_BACKENDS`::

    @BOTH_BACKENDS
    def test_something(client, people): ...

which runs the test once on SQLite and once on PostgreSQL (that variant marked `postgres`, so
`pytest -m "not postgres"` leaves it out). When the binaries are missing, the PostgreSQL variants fail
with a message saying how to install them rather than silently skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

PG_BIN = Path(os.environ.get("MESHCLAW_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
START_TIMEOUT_S = 30

BOTH_BACKENDS = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
"""Run a test on SQLite and on PostgreSQL (the `database_url` fixture turns the name into a URL)."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str

    def url(self, database: str) -> str:
        """A URL in the form MeshClaw's settings accept (`postgresql://`, the psycopg 3 driver is implied)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, prefix: str = "test") -> str:
        """Create an empty database with a unique name and return the name."""
        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        with self.admin_connection() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        with self.admin_connection() as connection:
            # FORCE: a test that leaked a connection must not make the next one fail.
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def admin_connection(self) -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit connection to the `postgres` database, for CREATE and DROP DATABASE."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_postgres_user() -> list[str]:
    """PostgreSQL will not run as root; as root, run its tools as the `postgres` OS user."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def _run(command: list[str], *, timeout: float) -> None:
    result = subprocess.run(
        [*_as_postgres_user(), *command], capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


@contextmanager
def private_postgres(*, durable: bool = False) -> Iterator[PostgresServer]:
    """Run a throw-away PostgreSQL server for the duration of the block (the bench uses it too).

    `durable=False` turns fsync and friends off, which is right for tests; a benchmark passes True so
    commits cost what they cost in production.
    """
    if not (PG_BIN / "postgres").exists():
        raise RuntimeError(f"PostgreSQL is not installed at {PG_BIN}; run scripts/install-test-deps.sh")
    root = Path(tempfile.mkdtemp(prefix="meshclaw-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    data = root / "data"
    log = root / "server.log"
    port = _free_port()
    settings = [
        f"-p {port}",
        "-c listen_addresses=127.0.0.1",
        f"-c unix_socket_directories={root}",
        "-c max_connections=200",
        "-c shared_buffers=32MB",
    ]
    if not durable:
        settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    options = " ".join(settings)
    try:
        _run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
                "--no-instructions",
            ],
            timeout=60,
        )
        try:
            _run(
                [
                    str(PG_BIN / "pg_ctl"),
                    "start",
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "-o",
                    options,
                ],
                timeout=START_TIMEOUT_S + 5,
            )
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
            raise RuntimeError(f"PostgreSQL did not start: {exc}\nserver log:\n{tail}") from None
        try:
            yield PostgresServer(host="127.0.0.1", port=port, user="postgres")
        finally:
            try:
                _run(
                    [str(PG_BIN / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w", "-t", "10"],
                    timeout=15,
                )
            except (RuntimeError, subprocess.TimeoutExpired):
                _run([str(PG_BIN / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate"], timeout=15)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start a private PostgreSQL server for this test session and stop it (deleting its data) at the end."""
    if not (PG_BIN / "postgres").exists():
        pytest.fail(f"PostgreSQL is not installed at {PG_BIN}; run scripts/install-test-deps.sh")
    with private_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A URL to a brand-new, empty database on the session's server, dropped after the test."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)
