"""Turning cumulative OTLP counters into increases, so a value that repeats or is resent counts once.

A cumulative point says "`value` since `start`". The increase to record is the difference from the last
reading of the same series with the same start. A point no newer than the last reading (an exporter's
retry, an out-of-order batch) adds nothing; a new start (the exporter restarted) begins a new
accumulation, counted from zero; a value below the last one under the same start is treated as a reset.

State lives in memory. After a MeshClaw restart, the first point of a series looks up the last reading
recorded in the database (recorded events carry their reading in `attributes["otel.cumulative"]`), so a
restart neither recounts the accumulation nor loses the increase since the last recorded point. Only
increases are recorded, so the look-up finds the last reading that changed the total; a later reading
with the same value changes nothing either way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Reading:
    start_ns: int
    time_ns: int
    value: float


LastReading = Callable[[str, int | None, int], Reading | None]
"""(series id, user id, start_ns) -> the last recorded reading of that series, if any."""


class CumulativeCounters:
    """Last reading per series, shared by every request of one process."""

    def __init__(self, lookup: LastReading | None = None, *, max_series: int = 200_000) -> None:
        self._lookup = lookup
        self._last: dict[str, Reading] = {}
        self._lock = threading.Lock()
        self._max_series = max_series

    def increase(
        self, series: str, *, start_ns: int, time_ns: int, value: float, user_id: int | None
    ) -> float:
        """How much the series grew since its last reading (0 for a repeat, a resend or an old point)."""
        with self._lock:
            last = self._last.get(series)
            if last is None and self._lookup is not None:
                last = self._lookup(series, user_id, start_ns)
            if last is not None and start_ns < last.start_ns:
                return 0.0  # a point from an accumulation that has since restarted
            if last is not None and start_ns == last.start_ns:
                if time_ns <= last.time_ns:
                    return 0.0
                grown = value - last.value
                if grown < 0:
                    grown = value
            else:
                grown = value
            if len(self._last) >= self._max_series:
                self._last.clear()  # bounded memory; the database look-up refills what is still active
            self._last[series] = Reading(start_ns, time_ns, value)
            return max(0.0, grown)
