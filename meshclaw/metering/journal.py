"""A local append-only journal that makes batched usage writes survive `kill -9`.

The recorder writes each event to the database in batches, off the request path. Between the call and the
batch commit the event lives in memory, and a killed process would lose it. So each event is first
appended to a journal segment with one `write()` system call: the bytes are then in the kernel's page
cache and survive the process dying (only a machine crash could lose them, as with SQLite's own WAL in
NORMAL sync mode). After a batch commits, its segment is deleted. On start, segments left by dead
processes are replayed; events carry unique ids and the insert ignores duplicates, so a replay never
double counts.

Each live segment is held under an exclusive `flock`, so several processes can share the directory and a
process only replays segments whose writer is gone.
"""

from __future__ import annotations

import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import orjson


class Segment:
    """One open journal file, locked by this process."""

    def __init__(self, directory: Path, prefix: str, sequence: int) -> None:
        self.path = directory / f"{prefix}-{sequence:08d}.jsonl"
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.count = 0

    def append(self, line: bytes) -> None:
        os.write(self.fd, line)
        self.count += 1

    def close(self) -> None:
        os.close(self.fd)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class Journal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        # Unique per journal, not just per process: tests (and embedders) may run two recorders at once.
        self._prefix = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._sequence = 0
        self.current = self._open()

    def _open(self) -> Segment:
        self._sequence += 1
        return Segment(self.directory, self._prefix, self._sequence)

    def append(self, line: bytes) -> None:
        """Append one encoded record (journal_records), newline included."""
        self.current.append(line)

    def rotate(self) -> Segment:
        """Start a new segment and return the previous one (closed for writing, still on disk)."""
        previous, self.current = self.current, self._open()
        previous.close()
        return previous

    def close(self) -> None:
        self.current.close()
        if self.current.count == 0:
            self.current.remove()


def orphaned_segments(directory: Path) -> Iterator[tuple[Path, list[object]]]:
    """Segments no live process holds, with their records. A torn last line (killed mid-write) is skipped."""
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.jsonl")):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its writer is alive
            records: list[object] = []
            with os.fdopen(os.dup(fd), "rb") as handle:
                for line in handle:
                    try:
                        record = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        continue
                    records.append(record)
            yield path, records
        finally:
            os.close(fd)
