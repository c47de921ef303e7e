"""WAL checkpoints on a thread of their own, so that the process's writers never wait for them.

In WAL mode SQLite appends every commit to the log and copies the log back into the database file (a
checkpoint) whenever a commit leaves it over 1,000 pages, on the committing connection's thread, before
that commit returns. For the metering writer that was 5-7 us of the 30-44 us each usage event cost: a batch
of 20,000 usage rows writes about 10 MB of pages, copied and synced at its commit (bench/RESULTS.md,
2026-12-02 15:00). While a `WalCheckpointer` runs, the database's connections leave checkpoints to it
(`Database.start_background_checkpoints`), and it checkpoints every `interval` seconds on a connection of its
own, where the copying and syncing overlap with the writers' work instead of adding to it.

Its checkpoints are PASSIVE: they copy what they can without waiting for readers or writers. The log only
starts over once all of it has been copied, so a writer that never pauses could keep a passive checkpoint
from ever finishing and the log would grow; once the log file passes `restart_bytes`, the checkpoint is a
RESTART, which copies everything and lets the next write start the log afresh. It does not wait: while
a write is under way, or a reader still reads an old snapshot, it goes on as a PASSIVE checkpoint (that is
SQLite's rule when its busy handler gives up, and this connection has none), and the next pass tries again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger("meshclaw.db")


class CheckpointResult(NamedTuple):
    """What `PRAGMA wal_checkpoint` reports."""

    busy: bool
    """The checkpoint could not finish because a reader or writer was in the way."""
    log_frames: int
    """Pages (frames) in the log."""
    copied_frames: int
    """Frames of the log now in the database file."""


class WalCheckpointer:
    """Checkpoints one SQLite database's log every `interval` seconds on a background thread."""

    def __init__(self, path: Path, *, interval: float = 0.2, restart_bytes: int = 128 * 1024 * 1024) -> None:
        self.path = path
        self.interval = interval
        self.restart_bytes = restart_bytes
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: sqlite3.Connection | None = None

    def start(self) -> None:
        # Autocommit (isolation_level None): a checkpoint cannot run inside a transaction. No busy
        # timeout: a RESTART that would have to wait for a writer or for readers (holding off other
        # writers meanwhile) goes on as a PASSIVE one instead, and the next pass tries again.
        self._connection = sqlite3.connect(
            self.path, timeout=0, isolation_level=None, check_same_thread=False
        )
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="meshclaw-wal-checkpoints", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread after one last checkpoint, so the log is in the database file when this returns
        (unless a reader or another process's writer is in the way)."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=30)
        self._thread = None
        if self._connection is not None:
            self._checkpoint_quietly()
            self._connection.close()
            self._connection = None

    def checkpoint(self) -> CheckpointResult:
        """One checkpoint now: PASSIVE, or RESTART when the log file has grown past `restart_bytes`."""
        assert self._connection is not None, "start() first"
        mode = "RESTART" if self._log_bytes() > self.restart_bytes else "PASSIVE"
        busy, log_frames, copied = self._connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        return CheckpointResult(bool(busy), log_frames, copied)

    def _log_bytes(self) -> int:
        try:
            return self.path.with_name(self.path.name + "-wal").stat().st_size
        except FileNotFoundError:
            return 0

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._checkpoint_quietly()

    def _checkpoint_quietly(self) -> None:
        try:
            self.checkpoint()
        except sqlite3.Error as error:  # e.g. locked past the busy timeout; the next pass tries again
            log.warning("WAL checkpoint of %s did not run: %s", self.path.name, error)
