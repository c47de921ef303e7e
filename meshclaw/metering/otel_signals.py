"""Which report of a client's token usage counts, when a tool reports the same calls more than one way.

Claude Code sends each model call as a `claude_code.api_request` log event *and* adds it to the
`claude_code.token.usage` / `claude_code.cost.usage` counters; Gemini CLI sends `gemini_cli.api_response`
events, spans and two token metrics. Counting all of them would count each call two or three times.

The rule: per (user, client = service.name), the most detailed signal wins. Log events rank first, spans
second, aggregated metrics last. A signal is recorded only while nothing better ranked has been seen for
that user and client; once a better one has been seen, the lesser ones are dropped for good (their
counters still advance, so nothing bursts later). Logs are exported every 5 s and metrics every 60 s by
default, so a client with logs enabled is known as such before its first metric export; the residual
risk is a first metric export that beats the first log export, which counts that one interval twice.

The memory is per process, backed by a database look-up on first sight of a (user, client), so it
survives restarts and is shared by processes through the table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal

Signal = Literal["log", "span", "metric"]
RANK: dict[Signal, int] = {"log": 0, "span": 1, "metric": 2}

BestSeen = Callable[[int | None, str | None], Signal | None]
"""(user id, client) -> the best-ranked signal already recorded for them, if any."""


class UsageSignals:
    def __init__(self, lookup: BestSeen | None = None) -> None:
        self._lookup = lookup
        self._best: dict[tuple[int | None, str | None], Signal | None] = {}
        self._lock = threading.Lock()

    def admit(self, signal: Signal, *, user_id: int | None, client: str | None) -> bool:
        """Whether usage from `signal` counts for this user and client; remembers it when it does."""
        key = (user_id, client)
        with self._lock:
            if key not in self._best:
                self._best[key] = self._lookup(user_id, client) if self._lookup else None
            best = self._best[key]
            if best is not None and RANK[best] < RANK[signal]:
                return False
            self._best[key] = signal
            return True
