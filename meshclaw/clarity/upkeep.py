"""Clarity's background upkeep in a running server: summing the rollups into Clarity's day and week tables
(`summaries.refresh`) at start and then every `interval` seconds, on a daemon thread.

At 5,000 people, summing a year of rollups the first time takes minutes, and summing a day again after
writes tens of milliseconds: neither belongs in a page view. Readers never wait for the upkeep: a day
not summed yet is read from its rollups (`freshness.py`), so a slow or failed round only costs speed.

Scoring flag weeks is deliberately not done here: a week scored after it ended is final
(`flag_store`), so scoring it in the background before late events (imports) arrive would freeze flags
that a first read would have seen.
"""

from __future__ import annotations

import logging
import threading

from meshclaw.clarity.summaries import REFRESH_SECONDS, refresh
from meshclaw.db.engine import Database

log = logging.getLogger(__name__)
DAYS_PER_TRANSACTION = 1
"""A day per transaction (about a second at 5,000 people on a loaded box): SQLite has one writer, and a
month per transaction (~40 s) made the metering writer and sign-ins time out waiting for the lock."""


class Upkeep:
    def __init__(self, db: Database, *, interval: float = REFRESH_SECONDS) -> None:
        self.db = db
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Sum every stale day; returns how many were summed."""
        total = 0
        while not self._stop.is_set():
            with self.db.session() as session:
                done = refresh(session, limit=DAYS_PER_TRANSACTION)
            total += done.days
            if done.days < DAYS_PER_TRANSACTION:
                break
        return total

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
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
