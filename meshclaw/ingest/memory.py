"""The process-wide memory OTLP mapping needs: cumulative counter readings and which usage signal each
user's client sends (see `metering.otel_counters` and `metering.otel_signals`), both backed by the
metering tables after a restart."""

from __future__ import annotations

from dataclasses import dataclass

from meshclaw.db.engine import Database
from meshclaw.metering import otel_store
from meshclaw.metering.otel_counters import CumulativeCounters
from meshclaw.metering.otel_signals import UsageSignals


@dataclass
class IngestMemory:
    counters: CumulativeCounters
    signals: UsageSignals

    @classmethod
    def for_database(cls, db: Database) -> IngestMemory:
        return cls(
            counters=CumulativeCounters(
                lambda series, user_id, start_ns: otel_store.last_reading(db, series, user_id, start_ns)
            ),
            signals=UsageSignals(lambda user_id, client: otel_store.best_signal(db, user_id, client)),
        )
