"""Clarity's background upkeep in a running server: summing the rollups into Clarity's day and week tables
(`summaries.refresh`) at start and then every `interval` seconds, on a daemon thread, and then scoring the
flag weeks that are due (`flag_store.score_due`), newest first.

At 5,000 people, summing a year of rollups the first time takes minutes, and summing a day again after
writes tens of milliseconds: neither belongs in a page view. Readers never wait for the upkeep: a day
not summed yet is read from its rollups (`freshness.py`), so a slow or failed round only costs speed.

Scoring a week of the whole organization takes most of a minute at that size: done on the first read,
it made the flag page's first view take that long. A week scored here before late events (imports)
arrive is not frozen: scoring records the version of the data it read, and a week whose data moved on
is due again (`flag_store`). One week per transaction, and the sums come first, so a round of scoring
never holds back the tables pages read.
"""

from __future__ import annotations

import logging
import threading

from meshclaw.clarity.flag_store import score_due
from meshclaw.clarity.summaries import REFRESH_SECONDS, refresh
from meshclaw.clock import Clock
from meshclaw.db.engine import Database

log = logging.getLogger(__name__)
DAYS_PER_TRANSACTION = 1
"""A day per transaction (about a second at 5,000 people on a loaded box): SQLite has one writer, and a
month per transaction (~40 s) made the metering writer and sign-ins time out waiting for the lock."""


class Upkeep:
    def __init__(
        self, db: Database, *, interval: float = REFRESH_SECONDS, clock: Clock | None = None
    ) -> None:
        """`clock`: score due flag weeks after each round of sums (None: sums only)."""
        self.db = db
        self.interval = interval
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Sum every stale day; returns how many were summed."""
        total = 0
        while not self._stop.is_set():
            with self.db.session() as session:
                done = refresh(session, limit=DAYS_PER_TRANSACTION)
            total += done.days
            if done.days < DAYS_PER_TRANSACTION and not done.backfilled:
                break
        return total

    def score_flags(self) -> int:
        """Score every due flag week, a week per transaction (stopping early when the server stops, and
        returning to the sums between weeks); returns how many were scored."""
        if self.clock is None:
            return 0
        scored = 0
        while not self._stop.is_set():
            with self.db.session() as session:
                done = score_due(session, now=self.clock.now(), limit=1)
            if not done:
                break
            scored += 1
            self.run_once()
        return scored

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
                self.score_flags()
            except Exception:  # a failed round is retried next time; it must not end the thread
                log.exception("Clarity upkeep failed; retrying in %.0f s", self.interval)
            self._stop.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="clarity-upkeep", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
