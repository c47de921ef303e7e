"""The routing table a running server uses, kept current without a database read per request.

Changes made in this process (API, admin page) call `reload()`; changes made elsewhere (the CLI, another
server process) are picked up by `current()` once `refresh_s` has passed since the last load. The reload
runs on the caller's thread; it reads one small table.
"""

from __future__ import annotations

import threading
import time

from meshclaw.db.engine import Database
from meshclaw.providers.registry import Routes


class LiveRoutes:
    def __init__(self, db: Database, *, refresh_s: float = 10.0) -> None:
        self._db = db
        self._refresh_s = refresh_s
        self._routes = Routes([])
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    def current(self) -> Routes:
        loaded_at = self._loaded_at
        if loaded_at is None or time.monotonic() - loaded_at >= self._refresh_s:
            self.reload()
        return self._routes

    def reload(self) -> Routes:
        with self._lock, self._db.session() as session:
            self._routes = Routes.load(session)
            self._loaded_at = time.monotonic()
        return self._routes
