"""Where simulated events go: the metering recorder, the one path every gateway, agent and OTLP event
takes (crash journal, batched writer, team stamping, pricing, hourly and daily rollups).

The simulation waits for the writer at the end of each simulated day (`commit`), so memory stays bounded
by one day's events while the writer commits one day as the next is generated.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from meshclaw.db.engine import Database
from meshclaw.metering.events import ActivityEvent, OutcomeEvent, UsageEvent
from meshclaw.metering.recorder import Recorder

COMMIT_TIMEOUT_S = 600.0


class EventSink:
    def __init__(self, db: Database, *, journal_dir: Path) -> None:
        # Large batches: a simulated day arrives all at once, and fewer, bigger transactions write faster.
        self.recorder = Recorder(db, journal_dir=journal_dir, max_batch=20_000, on_flush=self._stored)
        self.written = [0, 0, 0]
        """Usage, outcome and activity events stored so far (events already stored are not counted)."""
        self.tokens = 0
        self.cost_microusd = 0

    def _stored(self, usage: int, outcomes: int, activities: int) -> None:
        self.written = [self.written[0] + usage, self.written[1] + outcomes, self.written[2] + activities]

    def start(self) -> None:
        self.recorder.start()

    def close(self) -> None:
        self.recorder.close()

    def add_usage(self, events: Sequence[UsageEvent]) -> None:
        for event in events:
            self.recorder.record_usage(event)
            self.tokens += event.tokens.total
            if event.cost_usd is not None:
                self.cost_microusd += round(event.cost_usd * 1_000_000)
            else:
                self.cost_microusd += self.recorder.cost_microusd(event.model, event.tokens, event.started_at)

    def add_outcomes(self, events: Sequence[OutcomeEvent]) -> None:
        for event in events:
            self.recorder.record_outcome(event)

    def add_activities(self, events: Sequence[ActivityEvent]) -> None:
        for event in events:
            self.recorder.record_activity(event)

    def commit(self) -> None:
        """Wait until everything added so far is committed."""
        self.recorder.flush(timeout=COMMIT_TIMEOUT_S)
