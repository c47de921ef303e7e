"""While background checkpoints run, commits leave the SQLite log for the checkpointer thread to copy into
the database file; before and after, commits checkpoint themselves as SQLite does by default."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from sqlalchemy import text

from meshclaw.db.engine import Database
from meshclaw.db.migrate import upgrade
from meshclaw.db.wal_checkpoints import WalCheckpointer
from meshclaw.metering.recorder import Recorder

_PAGE = 16384  # a new database's page size (meshclaw.db.engine)
_ROWS = 1500  # a row a page at least: a commit of about 25 MB, past the automatic checkpoint's 1,000 pages


def _database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'meshclaw.db'}")
    with db.session() as session:
        session.execute(text("CREATE TABLE scratch (id INTEGER PRIMARY KEY, body BLOB)"))
    return db


def _write_pages(db: Database) -> None:
    with db.session() as session:
        session.execute(
            text("INSERT INTO scratch (body) VALUES (randomblob(:size))"), [{"size": _PAGE}] * _ROWS
        )


def test_a_new_database_has_16_kib_pages_and_an_existing_one_keeps_its_own(tmp_path: Path) -> None:
    assert _page_size(_database(tmp_path)) == _PAGE
    older = tmp_path / "older.db"
    with sqlite3.connect(older) as connection:  # made by an earlier release, with SQLite's 4 KiB pages
        connection.execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY)")
    db = Database(f"sqlite:///{older}")
    assert _page_size(db) == 4096
    with db.session() as session:
        session.execute(text("INSERT INTO scratch DEFAULT VALUES"))
        session.commit()
    assert _page_size(db) == 4096 and _journal_mode(db) == "wal"
    db.dispose()


def _page_size(db: Database) -> int:
    with db.session() as session:
        return int(session.execute(text("PRAGMA page_size")).scalar_one())


def _journal_mode(db: Database) -> str:
    with db.session() as session:
        return str(session.execute(text("PRAGMA journal_mode")).scalar_one())


def _database_file_bytes(tmp_path: Path) -> int:
    return (tmp_path / "meshclaw.db").stat().st_size


def _autocheckpoint(db: Database) -> int:
    with db.session() as session:
        return int(session.execute(text("PRAGMA wal_autocheckpoint")).scalar_one())


def test_by_default_a_large_commit_checkpoints_itself(tmp_path: Path) -> None:
    db = _database(tmp_path)
    _write_pages(db)
    assert _database_file_bytes(tmp_path) >= _ROWS * _PAGE  # copied into the file before commit returned
    assert _autocheckpoint(db) == 1000
    db.dispose()


def test_with_background_checkpoints_commits_leave_the_copy_to_the_thread(tmp_path: Path) -> None:
    db = _database(tmp_path)
    db.start_background_checkpoints(interval=3600)  # the thread's only checkpoint is the one at stop
    assert _autocheckpoint(db) == 0
    _write_pages(db)
    assert _database_file_bytes(tmp_path) < _PAGE * 100  # still in the log: the commit did not copy it
    db.stop_background_checkpoints()
    assert _database_file_bytes(tmp_path) >= _ROWS * _PAGE  # the last checkpoint copied it
    assert _autocheckpoint(db) == 1000  # connections checkpoint themselves again
    db.dispose()


def test_the_thread_copies_the_log_while_it_runs(tmp_path: Path) -> None:
    db = _database(tmp_path)
    db.start_background_checkpoints(interval=0.05)
    _write_pages(db)
    deadline = time.monotonic() + 10
    while _database_file_bytes(tmp_path) < _ROWS * _PAGE and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _database_file_bytes(tmp_path) >= _ROWS * _PAGE
    with db.session() as session:  # and the data is all there
        assert session.execute(text("SELECT count(*) FROM scratch")).scalar_one() == _ROWS
    db.dispose()


def test_starts_nest_and_the_recorder_holds_one(tmp_path: Path) -> None:
    db = _database(tmp_path)
    upgrade(db)
    recorder = Recorder(db, journal_dir=tmp_path / "journal")
    db.start_background_checkpoints()
    recorder.start()
    db.stop_background_checkpoints()
    assert _autocheckpoint(db) == 0  # the recorder still writes, so checkpoints stay in the background
    recorder.close()
    assert _autocheckpoint(db) == 1000
    db.dispose()


def test_in_memory_databases_are_left_alone() -> None:
    db = Database("sqlite:///:memory:")
    db.start_background_checkpoints()
    with db.session() as session:
        assert session.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == 1000
    db.stop_background_checkpoints()
    db.dispose()


def test_a_restart_does_not_wait_for_a_reader_and_restarts_the_log_once_it_can(tmp_path: Path) -> None:
    path = tmp_path / "meshclaw.db"
    _database(tmp_path).dispose()
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.executemany("INSERT INTO scratch (body) VALUES (randomblob(?))", [(_PAGE,)] * _ROWS)
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM scratch").fetchone() == (_ROWS,)  # holds its snapshot
    checkpointer = WalCheckpointer(path, interval=3600, restart_bytes=1)  # every checkpoint a RESTART
    checkpointer.start()
    began = time.monotonic()
    busy = checkpointer.checkpoint()
    assert time.monotonic() - began < 5  # did not wait for the reader
    assert busy.busy and busy.copied_frames == busy.log_frames  # copied, but the log cannot start over yet
    writer.execute("INSERT INTO scratch (body) VALUES (x'00')")  # and writers were not held off
    reader.execute("COMMIT")
    assert not checkpointer.checkpoint().busy
    writer.execute("INSERT INTO scratch (body) VALUES (x'00')")  # starts the log over
    assert checkpointer.checkpoint().log_frames < 10
    checkpointer.close()
    writer.close()
    reader.close()
