"""Events the database refused on their own: set aside by the recorder's writer so they hold up nothing,
then listed, retried or dropped by the operator (`meshclaw usage refused`).

They live in `refused.jsonl` in the journal directory, one line per event: `{"refused": reason, "at":
when, "event": its crash-journal line}`. The writer of any process appends to it (rarely: only for an
event the database refuses) while a retry or a drop rewrites it, so both take an exclusive lock on
`refused.lock` beside it: an event set aside during a retry is neither lost nor retried twice. A rewrite
goes to a temporary file renamed over the old one, so a crash leaves one or the other, whole.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
import psycopg
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError, StatementError

from meshclaw.db.engine import Database
from meshclaw.metering.events import ActivityEvent, OutcomeEvent, UsageEvent
from meshclaw.metering.journal_records import Event, decode
from meshclaw.metering.prices import PriceBook
from meshclaw.metering.writer import write_batch

REFUSED_FILE = "refused.jsonl"
_LOCK_FILE = "refused.lock"

_REFUSED = (
    DataError, IntegrityError, sqlite3.DataError, sqlite3.IntegrityError, psycopg.DataError,
    psycopg.IntegrityError, OverflowError, ValueError, TypeError,
)  # fmt: skip
"""What the database or its driver raise for a value it will never take. (SQLAlchemy wraps the drivers'
errors in its own classes, except on PostgreSQL's COPY path, which speaks to psycopg directly.)"""
_UNAVAILABLE = (
    OperationalError, InterfaceError, sqlite3.OperationalError, sqlite3.InterfaceError,
    psycopg.OperationalError, psycopg.InterfaceError, TimeoutError, ConnectionError,
)  # fmt: skip


def refused_for_its_data(error: BaseException) -> bool:
    """Whether the database (or its driver) refused a value, which no retry changes, as opposed to being
    unavailable for a while (locked, restarting, unreachable)."""
    if isinstance(error, _UNAVAILABLE):
        return False
    return isinstance(error, _REFUSED) or (
        isinstance(error, StatementError) and isinstance(error.orig, _REFUSED)
    )


def reason_of(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:500]}"


@dataclass(frozen=True, kw_only=True)
class Refused:
    """One set-aside event as read back; `event` is None for a line that no longer reads as one (cut
    short by a crash while it was appended), which is kept and shown, never silently dropped."""

    line: bytes
    reason: str
    at: datetime | None
    event: Event | None

    @property
    def event_id(self) -> str | None:
        return self.event.event_id if self.event is not None else None


@dataclass(frozen=True, kw_only=True)
class RetryResult:
    stored: int
    """Committed now, rollups included."""
    already_stored: int
    """Found stored already (an earlier retry that stopped half way, or the event replayed meanwhile)."""
    still_refused: list[Refused]
    """Refused again, with the new reason, and kept."""


@contextmanager
def _locked(journal_dir: Path) -> Iterator[Path]:
    journal_dir.mkdir(parents=True, exist_ok=True)
    with (journal_dir / _LOCK_FILE).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield journal_dir / REFUSED_FILE
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _line(event_line: bytes, reason: str, at: datetime) -> bytes:
    return orjson.dumps({"refused": reason, "at": at, "event": orjson.Fragment(event_line.rstrip())}) + b"\n"


def set_aside(journal_dir: Path, event_line: bytes, reason: str, *, at: datetime) -> None:
    """Append one event (its crash-journal line) with the reason the database gave."""
    with _locked(journal_dir) as path, path.open("ab") as refused:
        refused.write(_line(event_line, reason, at))


def _parse(line: bytes) -> Refused:
    try:
        record = orjson.loads(line)
        event = decode(record["event"])
        at = datetime.fromisoformat(record["at"]) if record.get("at") else None
        return Refused(line=line, reason=str(record["refused"]), at=at, event=event)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return Refused(line=line, reason="this line does not read as a set-aside event", at=None, event=None)


def _read(path: Path) -> list[Refused]:
    if not path.exists():
        return []
    return [_parse(line) for line in path.read_bytes().splitlines() if line.strip()]


def read_refused(journal_dir: Path) -> list[Refused]:
    """Every set-aside event, oldest first."""
    with _locked(journal_dir) as path:
        return _read(path)


def _rewrite(path: Path, lines: list[bytes]) -> None:
    if not lines:
        path.unlink(missing_ok=True)
        return
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as out:
        out.write(b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines))
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)


def _write_one(db: Database, event: Event, prices: PriceBook) -> int:
    """Store one event in its own transaction; how many were new (0: stored already)."""
    with db.session() as session:
        counts = write_batch(
            session,
            usage=[event] if isinstance(event, UsageEvent) else [],
            outcomes=[event] if isinstance(event, OutcomeEvent) else [],
            activities=[event] if isinstance(event, ActivityEvent) else [],
            prices=prices,
        )
    return sum(counts)


def retry_refused(db: Database, journal_dir: Path, *, now: datetime) -> RetryResult:
    """Store each set-aside event again, one transaction each (after the cause was mended: an upgrade, a
    column widened); keep those refused again with the new reason. Raises, with the file as it was, when
    the database is unavailable rather than refusing (`refused_for_its_data`)."""
    with _locked(journal_dir) as path:
        items = _read(path)
        if not items:
            return RetryResult(stored=0, already_stored=0, still_refused=[])
        with db.session() as session:
            prices = PriceBook.load(session)
        stored = already = 0
        kept: list[Refused] = []
        for item in items:
            if item.event is None:
                kept.append(item)
                continue
            try:
                new = _write_one(db, item.event, prices)
            except Exception as error:
                if not refused_for_its_data(error):
                    raise
                again = _line(_event_line(item.line), reason_of(error), now)
                kept.append(Refused(line=again, reason=reason_of(error), at=now, event=item.event))
                continue
            stored, already = stored + new, already + (1 - new)
        _rewrite(path, [item.line for item in kept])
        return RetryResult(stored=stored, already_stored=already, still_refused=kept)


def _event_line(line: bytes) -> bytes:
    """The crash-journal line inside a set-aside line, as it was written."""
    return orjson.dumps(orjson.loads(line)["event"])


def drop_refused(journal_dir: Path, event_ids: Collection[str]) -> list[Refused]:
    """Remove the named events for good (the operator decided they are not usage); returns those removed.
    Ids not set aside are ignored: the caller compares."""
    with _locked(journal_dir) as path:
        items = _read(path)
        dropped = [item for item in items if item.event_id in event_ids]
        if dropped:
            _rewrite(path, [item.line for item in items if item.event_id not in event_ids])
        return dropped
