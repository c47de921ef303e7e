"""The one recording path for usage, outcomes and activity: `Recorder.record_usage` and friends.

Callers never wait for the database: `record_*` appends the event to the crash journal (a copy into a
mapped file, journal.py) and to an in-memory batch, and a background thread commits batches every
`flush_interval` seconds or every `max_batch` events. Before writing, the thread stamps each event with its user's team at the time
(so a later reorganization does not rewrite history) and prices it with the price in force when the call
started. If the database is unavailable, batches are kept and retried; the journal keeps them safe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from meshclaw.db.engine import Database
from meshclaw.db.models import User
from meshclaw.metering.bounds import clamp_outcome, clamp_usage, usage_in_bounds
from meshclaw.metering.events import ActivityEvent, OutcomeEvent, TokenBuckets, UsageEvent
from meshclaw.metering.journal import Journal, Segment, orphaned_segments
from meshclaw.metering.journal_records import decode, encode_other, encode_usage, make_encodable
from meshclaw.metering.prices import PriceBook
from meshclaw.metering.refused import REFUSED_FILE, reason_of, refused_for_its_data, set_aside
from meshclaw.metering.writer import write_batch

log = logging.getLogger("meshclaw.metering")


@dataclass
class _Batch:
    usage: list[UsageEvent]
    outcomes: list[OutcomeEvent]
    activities: list[ActivityEvent]
    segments: list[Segment]

    def __len__(self) -> int:
        return len(self.usage) + len(self.outcomes) + len(self.activities)


def _encode_other(event: OutcomeEvent | ActivityEvent) -> bytes:
    kind = "o" if isinstance(event, OutcomeEvent) else "a"
    try:
        return encode_other(kind, event)
    except TypeError:  # as in `record_usage`
        make_encodable(event)
        return encode_other(kind, event)


def _halves(part: _Batch) -> list[_Batch]:
    """A one-kind batch in two (`_write_apart` splits batches by kind first)."""
    for kind in ("usage", "outcomes", "activities"):
        events: list[Any] = getattr(part, kind)
        if events:
            middle = len(events) // 2
            return [replace(part, **{kind: events[:middle]}), replace(part, **{kind: events[middle:]})]
    return []


class Recorder:
    """Owns batching, journaling, team stamping and pricing for one process."""

    def __init__(
        self,
        db: Database,
        *,
        journal_dir: Path,
        flush_interval: float = 0.05,
        max_batch: int = 5000,
        team_refresh_s: float = 30.0,
        price_refresh_s: float = 10.0,
        on_flush: Callable[[int, int, int], None] | None = None,
    ) -> None:
        self.db = db
        self.journal_dir = journal_dir
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.team_refresh_s = team_refresh_s
        self.price_refresh_s = price_refresh_s
        self.on_flush = on_flush
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._flushed = threading.Condition(threading.Lock())
        self._usage: list[UsageEvent] = []
        self._outcomes: list[OutcomeEvent] = []
        self._activities: list[ActivityEvent] = []
        self._retry: list[_Batch] = []
        self._enqueued = 0
        self._committed = 0
        self._journal: Journal | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._starts = 0
        self._prices = PriceBook([])
        self._prices_stale = True
        self.clamped = 0
        """Events recorded with numbers out of range, clamped (bounds.py), since this recorder was made."""
        self.set_aside = 0
        """Events the database refused, set aside in `REFUSED_FILE`, since this recorder was made."""
        self._prices_loaded_at = 0.0
        self._teams: dict[int, int | None] = {}
        self._teams_loaded_at = 0.0

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Replay journals left by dead processes, then start the background writer.

        Starts nest: an app whose lifespan runs twice at once (two test clients on one app) shares one
        writer, which stops when the last `close()` balances the first `start()`.
        """
        self._starts += 1
        if self._starts > 1:
            return
        self.replay()
        # This writer's batches are what make checkpoints expensive; they should not wait for them.
        self.db.start_background_checkpoints()
        self._stopping = False
        with self.db.session() as session:
            self._prices = PriceBook.load(session)
        self._prices_stale = False
        self._prices_loaded_at = time.monotonic()
        self._journal = Journal(self.journal_dir)
        self._journal.prepare()
        self._thread = threading.Thread(target=self._run, name="meshclaw-metering", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Commit everything recorded so far and stop the writer."""
        self._starts = max(0, self._starts - 1)
        if self._starts > 0 or self._thread is None:
            return
        self.flush()
        with self._lock:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout=30)
        self._thread = None
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        self.db.stop_background_checkpoints()

    # --- recording (the hot path) ---------------------------------------------------------------

    def record_usage(self, event: UsageEvent) -> None:
        if not usage_in_bounds(event):  # one comparison on the hot path; see bounds.py for why
            clamp_usage(event)
            self._count_clamped()
        try:
            line = encode_usage(event)
        except TypeError:  # a value JSON cannot carry here, in its free-form fields
            make_encodable(event)
            line = encode_usage(event)
        self._record(event, "usage", line)

    def record_outcome(self, event: OutcomeEvent) -> None:
        if clamp_outcome(event):
            self._count_clamped()
        self._record(event, "outcome", _encode_other(event))

    def record_activity(self, event: ActivityEvent) -> None:
        self._record(event, "activity", _encode_other(event))

    def _count_clamped(self) -> None:
        with self._lock:
            self.clamped += 1

    def _record(self, event: UsageEvent | OutcomeEvent | ActivityEvent, kind: str, line: bytes) -> None:
        # Encoded before taking the lock: concurrent recorders serialize only on the write itself.
        with self._lock:
            if self._journal is None:
                raise RuntimeError("Recorder.start() must be called before recording")
            # The queue is picked inside the lock: the writer swaps in fresh lists when it takes a batch,
            # and an event appended to a list it already took would be lost.
            queue: list[Any] = (
                self._usage if kind == "usage" else self._outcomes if kind == "outcome" else self._activities
            )
            self._journal.append(line)
            queue.append(event)
            self._enqueued += 1
            if len(queue) == self.max_batch:  # wake the writer once, when the batch fills
                self._wake.notify()

    def cost_microusd(self, model: str | None, tokens: TokenBuckets, at: datetime) -> int:
        """What a call costs at the price in force at `at` (0 for an unpriced model); for budget checks."""
        price = self._prices.price_at(model, at)
        return price.cost_microusd(tokens) if price else 0

    def prices_changed(self) -> None:
        """Call after editing prices; the next batch is priced with the new table."""
        self._prices_stale = True

    def flush(self, timeout: float = 30.0) -> None:
        """Block until every event recorded before this call is committed (or the timeout passes)."""
        with self._lock:
            target = self._enqueued
            self._wake.notify()
        deadline = time.monotonic() + timeout
        with self._flushed:
            while self._committed < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"metering did not commit within {timeout} s; is the database reachable?"
                    )
                self._flushed.wait(remaining)

    # --- background writer ----------------------------------------------------------------------

    def _take(self) -> _Batch | None:
        with self._lock:
            if not (self._usage or self._outcomes or self._activities):
                return None
            journal = self._journal
            assert journal is not None
            batch = _Batch(self._usage, self._outcomes, self._activities, journal.rotate())
            self._usage, self._outcomes, self._activities = [], [], []
        # Outside the lock: closing a segment and opening the next take a millisecond or more, which
        # record_* calls would otherwise wait for.
        for segment in batch.segments:
            segment.close()
        journal.prepare()
        return batch

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._stopping and not (len(self._usage) >= self.max_batch):
                    self._wake.wait(self.flush_interval)
                stopping = self._stopping
            batch = self._take()
            pending = self._retry + ([batch] if batch else [])
            self._retry = []
            for index, item in enumerate(pending):
                if not self._commit(item):
                    self._retry = pending[index:]
                    time.sleep(min(2.0, self.flush_interval * 20))
                    break
            if stopping and not self._retry and batch is None:
                return

    def _commit(self, batch: _Batch) -> bool:
        try:
            counts = self._write(batch)
        except Exception as error:
            if not refused_for_its_data(error):  # the database may be briefly unavailable: retry the batch
                log.exception("metering batch of %d events not committed yet; will retry", len(batch))
                return False
            # A value the database refuses would fail this batch at every attempt and hold up every event
            # recorded after it: commit the rest and set the refused events aside.
            log.error("the database refused part of a metering batch of %d events (%s: %s); finding which",
                      len(batch), type(error).__name__, str(error)[:300])  # fmt: skip
            try:
                counts = self._write_apart(batch)
            except Exception:
                log.exception("metering batch of %d events not committed yet; will retry", len(batch))
                return False
        for segment in batch.segments:
            segment.remove()
        with self._flushed:
            self._committed += len(batch)
            self._flushed.notify_all()
        if self.on_flush is not None:
            self.on_flush(*counts)
        return True

    def _write(self, batch: _Batch) -> tuple[int, int, int]:
        self._stamp_teams(batch)
        with self.db.session() as session:
            # Reloaded now and then too: a price added by the CLI or another server process must apply
            # here without a restart.
            if self._prices_stale or time.monotonic() - self._prices_loaded_at > self.price_refresh_s:
                self._prices = PriceBook.load(session)
                self._prices_stale = False
                self._prices_loaded_at = time.monotonic()
            return write_batch(
                session,
                usage=batch.usage,
                outcomes=batch.outcomes,
                activities=batch.activities,
                prices=self._prices,
            )

    def _write_apart(self, batch: _Batch) -> tuple[int, int, int]:
        """Commit the batch in halves, and halves of the half that fails, down to the events the database
        refuses on their own: those go to `refused.jsonl` in the journal directory (their journal line and
        the error) instead of the database. Raises for anything but refused data (the caller retries the
        whole batch; the halves already committed are skipped then, by their event ids)."""
        counts = [0, 0, 0]
        pending = [
            _Batch(batch.usage, [], [], []),
            _Batch([], batch.outcomes, [], []),
            _Batch([], [], batch.activities, []),
        ]
        while pending:
            part = pending.pop()
            if not len(part):
                continue
            try:
                written = self._write(part)
            except Exception as error:
                if not refused_for_its_data(error):
                    raise
                if len(part) == 1:
                    self._set_aside(part, error)
                    continue
                pending.extend(_halves(part))
                continue
            counts = [total + new for total, new in zip(counts, written, strict=True)]
        return counts[0], counts[1], counts[2]

    def _set_aside(self, part: _Batch, error: Exception) -> None:
        event: UsageEvent | OutcomeEvent | ActivityEvent = (part.usage or part.outcomes or part.activities)[0]
        line = encode_usage(event) if isinstance(event, UsageEvent) else _encode_other(event)
        reason = reason_of(error)
        set_aside(self.journal_dir, line, reason, at=datetime.now(UTC))
        log.error("metering event %s refused by the database, set aside in %s: %s",
                  event.event_id, REFUSED_FILE, reason)  # fmt: skip
        self.set_aside += 1  # (only the writer thread sets events aside)

    def _stamp_teams(self, batch: _Batch) -> None:
        events: list[UsageEvent | OutcomeEvent | ActivityEvent] = [
            *batch.usage,
            *batch.outcomes,
            *batch.activities,
        ]
        missing = {e.user_id for e in events if e.user_id is not None and e.team_id is None}
        if not missing:
            return
        if (
            time.monotonic() - self._teams_loaded_at > self.team_refresh_s
            or not missing <= self._teams.keys()
        ):
            with self.db.session() as session:
                self._teams = {
                    user_id: team_id for user_id, team_id in session.execute(select(User.id, User.team_id))
                }
            self._teams_loaded_at = time.monotonic()
        for event in events:
            if event.user_id is not None and event.team_id is None:
                event.team_id = self._teams.get(event.user_id)

    # --- crash recovery -------------------------------------------------------------------------

    def replay(self) -> int:
        """Commit events from journals of processes that died before their batch committed.

        Returns how many events the journals held; those already stored (the process died after its
        commit, before deleting the segment) are skipped by the writer, not stored twice.
        """
        replayed = 0
        for path, records in orphaned_segments(self.journal_dir):
            batch = _Batch([], [], [], [])
            for record in records:
                event = decode(record)
                if isinstance(event, UsageEvent):
                    batch.usage.append(event)
                elif isinstance(event, OutcomeEvent):
                    batch.outcomes.append(event)
                elif isinstance(event, ActivityEvent):
                    batch.activities.append(event)
            if len(batch):
                self._stamp_teams(batch)
                with self.db.session() as session:
                    write_batch(
                        session,
                        usage=batch.usage,
                        outcomes=batch.outcomes,
                        activities=batch.activities,
                        prices=PriceBook.load(session),
                    )
                replayed += len(batch)
            path.unlink(missing_ok=True)
        if replayed:
            log.info("replayed %d metering events from the crash journal", replayed)
        return replayed
