"""Engine and session factory for SQLite (default, WAL mode) and PostgreSQL.

One `Database` per process, created by the entry point and passed down. SQLite gets WAL so readers never
block the writer, a busy timeout so concurrent writers queue instead of failing, and foreign keys on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # 64 MiB page cache (default 2 MiB): usage ingestion updates several large indexes per batch.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _null(_value: None) -> None:
    return None


def _bind_none_fast() -> None:
    """Bind None through a registered adapter instead of sqlite3's fallback.

    Python 3.11's sqlite3 binds int, float and str directly, but a None first goes through the adapter
    protocol: it looks for `__adapt__` on the protocol class, which raises and formats an AttributeError
    that is then thrown away, and only then binds NULL. That costs ~440 ns per None against ~180 with an
    adapter that returns None (usage rows carry several Nones each; bench/RESULTS.md, 2026-12-02 11:40).
    The registry is the sqlite3 module's, for the whole process; NULL is stored either way.
    """
    sqlite3.register_adapter(type(None), _null)


class Database:
    """Owns the engine; `session()` is the only way code gets a transaction."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url, echo=echo, connect_args={"check_same_thread": False, "timeout": 10}
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
            _bind_none_fast()
        else:
            self.engine = create_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends normally, rolled back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
