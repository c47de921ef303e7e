"""A local append-only journal that makes batched usage writes survive `kill -9`.

The recorder writes each event to the database in batches, off the request path. Between the call and the
batch commit the event lives in memory, and a killed process would lose it. So each event is first
copied into a journal segment: a file mapped into memory with `MAP_SHARED`, whose pages are the kernel's
page cache, so a record copied in survives the process dying (only a machine crash could lose it, as with
SQLite's own WAL in NORMAL sync mode). After a batch commits, its segments are deleted. On start,
segments left by dead processes are replayed; events carry unique ids and the insert ignores duplicates,
so a replay never double counts.

Why a mapping rather than one `write()` per event: the copy needs no system call and, above all, does not
release Python's GIL. A `write()` per event handed the GIL to the metering writer thread on every call,
and the recording thread then waited to get it back (bench/RESULTS.md, 2026-12-02 07:00). The space of
a segment is reserved when it is opened (`posix_fallocate`), so a full disk is an exception there and
never a SIGBUS on a copy. A segment is cut to its used length when closed; one left by a killed process
ends in zero bytes, which the reader skips like a torn line.

Each live segment is held under an exclusive `flock`, so several processes can share the directory and a
process only replays segments whose writer is gone.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import re
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson

SEGMENT_BYTES = 8 << 20
"""Reserved per segment: about 25,000 usage events. A fuller segment is followed by a new one."""


_SEGMENT_NAME = re.compile(r"\d+(-[0-9a-f]{8})?-\d{8}\.jsonl")
"""`<pid>-<random>-<sequence>.jsonl` (`<pid>-<sequence>.jsonl` before 66b0fbc): only these are segments.
Other files share the directory (the events the database refused, `refused.py`), and replaying one as a
segment would delete it."""


class Segment:
    """One journal file, mapped and locked by this process."""

    def __init__(self, directory: Path, prefix: str, sequence: int, size: int) -> None:
        self.path = directory / f"{prefix}-{sequence:08d}.jsonl"
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.posix_fallocate(self.fd, 0, size)
            self._map: mmap.mmap | None = mmap.mmap(self.fd, size, flags=mmap.MAP_SHARED)
        except BaseException:
            os.close(self.fd)
            self.path.unlink(missing_ok=True)
            raise
        self.size = size
        self.used = 0
        self.count = 0

    def fits(self, line: bytes) -> bool:
        return self.used + len(line) <= self.size

    def append(self, line: bytes) -> None:
        assert self._map is not None, "append to a closed segment"
        end = self.used + len(line)
        self._map[self.used : end] = line
        self.used = end
        self.count += 1

    def close(self) -> None:
        """Stop writing: unmap, cut the file to what was written, release the lock."""
        if self._map is None:
            return
        self._map.close()
        self._map = None
        os.ftruncate(self.fd, self.used)
        os.close(self.fd)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class Journal:
    """Segments in one directory. `append` and `rotate` run under the recorder's lock, so they only swap
    segments: opening one (reserving its space) and closing one (cutting it to size) take a millisecond or
    more, and happen on the writer thread outside that lock (`prepare`, `Segment.close`)."""

    def __init__(self, directory: Path, *, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        directory.mkdir(parents=True, exist_ok=True)
        # Unique per journal, not just per process: tests (and embedders) may run two recorders at once.
        self._prefix = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._sequence = 0
        self._lock = threading.Lock()  # the sequence and the spare, shared with `prepare`'s thread
        self._spare: Segment | None = None
        self._full: list[Segment] = []
        self.current = self._open(segment_bytes)

    def _open(self, size: int) -> Segment:
        with self._lock:
            self._sequence += 1
            sequence = self._sequence
        return Segment(self.directory, self._prefix, sequence, size)

    def _next(self, size: int) -> Segment:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None and spare.size >= size:
            return spare
        if spare is not None:
            spare.close()
            spare.remove()
        return self._open(size)  # no spare ready (or too small for one huge record): the slow way

    def prepare(self) -> None:
        """Open the segment the next switch will use, if none is ready."""
        if self._spare is not None:
            return
        segment = self._open(self.segment_bytes)
        with self._lock:
            if self._spare is None:
                self._spare = segment
                return
        segment.close()  # another thread prepared one meanwhile (one writer thread: not expected)
        segment.remove()

    def append(self, line: bytes) -> None:
        """Append one encoded record (journal_records), newline included. Durable against the process
        dying once this returns."""
        if not self.current.fits(line):
            self._full.append(self.current)
            self.current = self._next(max(self.segment_bytes, len(line)))
        self.current.append(line)

    def rotate(self) -> list[Segment]:
        """Switch to a new segment and return those written since the last rotation. Nothing is
        appended to them any more; the caller closes them (outside its lock) and removes them once their
        events are committed."""
        taken, self._full = [*self._full, self.current], []
        self.current = self._next(self.segment_bytes)
        return taken

    def close(self) -> None:
        for segment in (*self._full, self.current):
            segment.close()
        if self.current.count == 0:
            self.current.remove()
        if self._spare is not None:
            self._spare.close()
            self._spare.remove()
            self._spare = None


def _records(data: bytes) -> Iterator[object]:
    for line in data.split(b"\n"):
        # Zero bytes: the unused end of a segment whose process was killed before closing it.
        line = line.strip(b"\x00")
        if not line:
            continue
        try:
            yield orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a record cut short by the kill


def orphaned_segments(directory: Path) -> Iterator[tuple[Path, list[object]]]:
    """Segments no live process holds, with their records. A torn last line (killed mid-write) is skipped."""
    if not directory.is_dir():
        return
    for path in sorted(path for path in directory.glob("*.jsonl") if _SEGMENT_NAME.fullmatch(path.name)):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its writer is alive
            with os.fdopen(os.dup(fd), "rb") as handle:
                records = list(_records(handle.read()))
            yield path, records
        finally:
            os.close(fd)
