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

from meshclaw.db.wal_checkpoints import WalCheckpointer

_AUTOMATIC_CHECKPOINT_PAGES = 1000  # SQLite's default


def _sqlite_pragmas(dbapi_connection: Any, *, checkpoint_pages: int) -> None:
    cursor = dbapi_connection.cursor()
    # 16 KiB pages for a new database (an existing one keeps the size it was made with): usage ingestion
    # inserts 20-30% cheaper per row than with the default 4 KiB, reads by index about the same, and a small
    # commit writes 16 KiB to the log instead of 4 (bench/RESULTS.md, 2026-12-03). Must come before WAL.
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # 64 MiB page cache (default 2 MiB): usage ingestion updates several large indexes per batch.
    cursor.execute("PRAGMA cache_size=-65536")
    # 0 while a WalCheckpointer does the checkpoints (Database.start_background_checkpoints).
    cursor.execute(f"PRAGMA wal_autocheckpoint={int(checkpoint_pages)}")
    # When the log starts over, its file is cut back to 64 MiB instead of keeping its largest size.
    cursor.execute("PRAGMA journal_size_limit=67108864")
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
        self._file: Path | None = None
        self._checkpointer: WalCheckpointer | None = None
        self._checkpointer_users = 0
        if self.is_sqlite:
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                self._file = Path(path)
                self._file.parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(
                url, echo=echo, connect_args={"check_same_thread": False, "timeout": 10}
            )
            event.listen(self.engine, "connect", self._on_sqlite_connect)
            _bind_none_fast()
        else:
            self.engine = create_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends normally, rolled back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    def start_background_checkpoints(self, *, interval: float = 0.2) -> None:
        """Let a thread of its own checkpoint the SQLite log, so that commits never wait for a checkpoint
        (see `WalCheckpointer`). For a process that writes in bulk (the metering recorder starts it).

        Calls nest; the thread stops when `stop_background_checkpoints` balances the first call. Nothing
        happens for PostgreSQL or an in-memory SQLite database.
        """
        if self._file is None:
            return
        self._checkpointer_users += 1
        if self._checkpointer_users > 1:
            return
        self._checkpointer = WalCheckpointer(self._file, interval=interval)
        self._checkpointer.start()
        # Idle pooled connections were opened with automatic checkpoints on: new ones are opened without.
        self.engine.dispose()

    def stop_background_checkpoints(self) -> None:
        """Checkpoint once more, stop the thread and give checkpoints back to the connections."""
        if self._checkpointer is None:
            return
        self._checkpointer_users -= 1
        if self._checkpointer_users > 0:
            return
        checkpointer, self._checkpointer = self._checkpointer, None
        self.engine.dispose()
        checkpointer.close()

    def _on_sqlite_connect(self, dbapi_connection: Any, _record: Any) -> None:
        pages = 0 if self._checkpointer is not None else _AUTOMATIC_CHECKPOINT_PAGES
        _sqlite_pragmas(dbapi_connection, checkpoint_pages=pages)

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer_users = 1  # the end of the database's use, whoever still counted on it
            self.stop_background_checkpoints()
        self.engine.dispose()
