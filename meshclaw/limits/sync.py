"""Keeps a `Limiter` in step with the database, on its own thread, so `admit` never waits for I/O.

Every `refresh_s` seconds (10 by default, like the recorder's price reload) and on `reload()` it reads
the budgets, the spend of their current periods and the alerts already stored, and installs them with
`Limiter.replace`. So a budget set with the CLI, or on another server process, applies within
`refresh_s`; one set through this process's API or pages applies before the answer is sent. Alerts that
settles noticed are stored here and then handed to the alert sinks.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from meshclaw.clock import Clock, SystemClock
from meshclaw.db.engine import Database
from meshclaw.limits import store
from meshclaw.limits.periods import period_bounds
from meshclaw.limits.spend import load_spend

if TYPE_CHECKING:
    from meshclaw.limits.admission import Limiter

log = logging.getLogger("meshclaw.limits")

API_KEY_RELOAD_S = 60.0
"""How often the spend of API keys already counted here is re-read from the usage events (other
processes' calls with the same key count within this time)."""


class LimitsSync:
    def __init__(self, limiter: Limiter, db: Database, *, clock: Clock | None, refresh_s: float) -> None:
        self.limiter = limiter
        self.db = db
        self.clock = clock or SystemClock()
        self.refresh_s = refresh_s
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._starts = 0
        self._reload_lock = threading.Lock()
        # Held from taking the alerts to committing them: a `reload()` that finds none to take because the
        # background thread has just taken them waits for that commit, so its caller reads them stored.
        self._store_lock = threading.Lock()
        self._api_keys_loaded_at = float("-inf")

    def start(self) -> None:
        """Load once (so the first request is already limited), then refresh in the background.
        Starts nest, like the recorder's: two test clients on one app share one thread."""
        self._starts += 1
        if self._starts > 1:
            return
        self.reload()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="meshclaw-limits", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._starts = max(0, self._starts - 1)
        if self._starts > 0 or self._thread is None:
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=30)
        self._thread = None
        self._store_alerts()

    def wake(self) -> None:
        """A soft alert is waiting to be stored."""
        self._wake.set()

    def reload(self) -> None:
        with self._reload_lock:  # the API thread and the background thread may reload at once
            from meshclaw.limits.admission import Snapshot

            now = self.clock.now()
            with self.db.session() as session:
                rules = store.load_rules(session)
                keys = [(r.subject_type, r.subject_id, r.unit, r.period) for r in rules]
                # API keys' spend comes from raw events (no rollup has a key dimension): sum it for new
                # budgets at once, for the others once a minute rather than on every 10 s refresh.
                full = time.monotonic() - self._api_keys_loaded_at >= API_KEY_RELOAD_S
                known = set(self.limiter.counter_keys())
                spend = load_spend(
                    session, [k for k in keys if full or k[0] != "api_key" or k not in known], now
                )
                oldest = min(period_bounds(p, now)[0] for p in ("day", "week", "month"))
                alerted = store.alerted_since(session, oldest)
            self.limiter.replace(Snapshot(rules=rules, spend=spend, alerted=alerted), now=now)
            if full:
                self._api_keys_loaded_at = time.monotonic()
        self._store_alerts()

    def _run(self) -> None:
        next_reload = time.monotonic() + self.refresh_s
        while not self._stopping:
            self._wake.wait(timeout=max(0.0, min(self.refresh_s, next_reload - time.monotonic())))
            self._wake.clear()
            if self._stopping:
                return
            try:
                self._store_alerts()
                if time.monotonic() >= next_reload:
                    self.reload()
                    next_reload = time.monotonic() + self.refresh_s
            except Exception:  # the database may be briefly unavailable; the limits in memory still hold
                log.exception("limits: reload from the database failed; keeping the current limits")
                next_reload = time.monotonic() + self.refresh_s

    def _store_alerts(self) -> None:
        with self._store_lock:
            alerts = self.limiter.take_alerts()
            if not alerts:
                return
            stored = []
            try:
                with self.db.session() as session:
                    for alert in alerts:
                        if store.store_alert(session, alert):
                            stored.append(alert)
            except Exception:
                self.limiter.return_alerts(alerts)  # try again on the next round
                raise
        for alert in stored:  # after the commit, as events are dispatched only once written
            for sink in self.limiter.alert_sinks:
                try:
                    sink.deliver(alert)
                except Exception:
                    log.exception("limits: an alert sink failed")
