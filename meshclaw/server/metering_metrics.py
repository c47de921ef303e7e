"""Prometheus series for what the metering recorder had to do with bad input: events clamped (numbers out
of range) and events the database refused (set aside in the journal directory's `refused.jsonl`). Both are
worth an alert: the first names a misbehaving upstream or exporter, the second usage missing from the
database until someone looks."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from meshclaw.metering.recorder import Recorder
from meshclaw.metering.refused import REFUSED_FILE


class MeteringCollector(Collector):
    """Reads the recorder's counts when scraped, so recording pays nothing for them."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "meshclaw_metering_clamped_events",
            "Events recorded with token counts, a cost or a quantity out of range, clamped",
            value=self.recorder.clamped,
        )
        yield CounterMetricFamily(
            "meshclaw_metering_refused_events",
            f"Events the database refused, set aside in metering-journal/{REFUSED_FILE}",
            value=self.recorder.set_aside,
        )


def register_metering_metrics(registry: CollectorRegistry, recorder: Recorder) -> None:
    registry.register(MeteringCollector(recorder))
