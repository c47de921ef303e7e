"""Numbers no call can have (2**63 tokens, an infinite cost, integers past 64 bits in a usage object) are
clamped where every event is recorded, so the database never refuses a batch: before, one such event
stalled metering for everyone (its batch, and every event after it, was retried forever), on SQLite and
PostgreSQL alike."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from meshclaw.context import AppContext
from meshclaw.db.models import OutcomeEventRow, UsageEventRow, UsageRollup
from meshclaw.metering.bounds import CLAMPED, MAX_COST_USD, MAX_TOKENS
from meshclaw.metering.events import OutcomeEvent, TokenBuckets, UsageEvent
from meshclaw.metering.journal_records import TOO_DEEP
from meshclaw.metering.normalize import from_openai
from meshclaw.metering.otel_values import text
from meshclaw.metering.recorder import Recorder
from tests.postgres import BOTH_BACKENDS

NOW = datetime.now(UTC)


def usage(**fields: object) -> UsageEvent:
    return UsageEvent(source="otlp", started_at=NOW, ended_at=NOW, **fields)  # type: ignore[arg-type]


@BOTH_BACKENDS
def test_out_of_range_numbers_are_clamped_and_metering_goes_on(context: AppContext, tmp_path: Path) -> None:
    recorder = Recorder(context.db, journal_dir=tmp_path / "journal")
    recorder.start()
    try:
        poisoned = [
            usage(tokens=TokenBuckets(input_uncached=2**63 + 5)),  # orjson takes it; the database would not
            usage(tokens=TokenBuckets(output=2**64)),  # past what the crash journal can encode
            usage(tokens=TokenBuckets(output=-7, reasoning=3.5)),  # type: ignore[arg-type]
            usage(cost_usd=math.inf),
            usage(cost_usd=math.nan),
            usage(raw_usage={"prompt_tokens": 2**70}, attributes={"n": [2**65]}),
        ]
        for event in poisoned:
            recorder.record_usage(event)
        recorder.record_usage(usage(tokens=TokenBuckets(input_uncached=5)))
        recorder.record_outcome(
            OutcomeEvent(type="commit.created", occurred_at=NOW, source="otlp", quantity=math.inf,
                         minutes_saved=math.nan)
        )  # fmt: skip
        recorder.flush(timeout=20)  # timed out before: the batch was refused at every attempt
    finally:
        recorder.close()
    with context.db.session() as session:
        events, tokens_in, tokens_out, cost = session.execute(
            select(func.count(), func.sum(UsageEventRow.input_uncached), func.sum(UsageEventRow.output),
                   func.sum(UsageEventRow.cost_microusd))
        ).one()  # fmt: skip
        requests = session.scalar(select(func.sum(UsageRollup.requests)).where(UsageRollup.bucket == "day"))
        raw = session.scalar(
            select(UsageEventRow.raw_usage).where(UsageEventRow.event_id == poisoned[5].event_id)
        )
        outcome = session.execute(select(OutcomeEventRow.quantity, OutcomeEventRow.minutes_saved)).one()
    assert (events, requests) == (7, 7)
    assert tokens_in == MAX_TOKENS + 5 and tokens_out == MAX_TOKENS  # every call counted, none unbounded
    assert cost == MAX_COST_USD * 1_000_000
    assert raw == {"prompt_tokens": str(2**70)}  # kept, as text
    assert tuple(outcome) == (1e12, None)
    assert all(event.attributes and event.attributes[CLAMPED] for event in poisoned[:5])


def nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {"prompt_tokens": 1}
    for _ in range(depth):
        value = {"a": value}
    return value


@BOTH_BACKENDS
def test_a_usage_object_nested_past_what_the_journal_encodes_is_cut_and_the_call_counted(
    context: AppContext, tmp_path: Path
) -> None:
    """orjson encodes 254 levels at most: a misbehaving upstream's usage object nested deeper made
    `record_usage` raise, so the call it served went unmetered."""
    recorder = Recorder(context.db, journal_dir=tmp_path / "journal")
    recorder.start()
    try:
        deep = [usage(raw_usage=nested(300)), usage(raw_usage=nested(5000), attributes={"x": nested(300)})]
        for event in deep:
            recorder.record_usage(event)
        recorder.flush(timeout=20)
    finally:
        recorder.close()
    with context.db.session() as session:
        stored = dict(session.execute(select(UsageEventRow.event_id, UsageEventRow.raw_usage)).all())
    assert set(stored) == {event.event_id for event in deep}
    raw = stored[deep[0].event_id]
    for _ in range(32):
        raw = raw["a"]
    assert raw == TOO_DEEP


def test_an_upstream_usage_object_with_infinities_is_read_as_zero() -> None:
    """Python's json reads Infinity and NaN; int() of either raised inside the gateway's request."""
    usage_object = orjson.loads(b'{"prompt_tokens": 10, "completion_tokens": 1}')
    usage_object["prompt_tokens"] = math.inf
    usage_object["completion_tokens"] = math.nan
    assert from_openai(usage_object) == TokenBuckets()


@BOTH_BACKENDS
def test_an_event_the_database_refuses_is_set_aside_and_the_rest_committed(
    context: AppContext, tmp_path: Path
) -> None:
    """Whatever else the database may refuse one day (here a NOT NULL column left empty, as a bug in a
    mapper would), the batch's other events are committed and the refused one is kept apart with the
    reason, rather than the whole batch retried forever."""
    journal = tmp_path / "journal"
    recorder = Recorder(context.db, journal_dir=journal, max_batch=100_000, flush_interval=60)
    recorder.start()
    try:
        good = [usage(tokens=TokenBuckets(input_uncached=n)) for n in range(1, 40)]
        bad = usage(status=None)
        for event in [*good[:17], bad, *good[17:]]:
            recorder.record_usage(event)
        recorder.record_outcome(OutcomeEvent(type="commit.created", occurred_at=NOW, source="otlp"))
        recorder.flush(timeout=20)
        recorder.record_usage(usage(tokens=TokenBuckets(input_uncached=1000)))  # and metering goes on
        recorder.flush(timeout=20)
    finally:
        recorder.close()
    with context.db.session() as session:
        events, tokens = session.execute(select(func.count(), func.sum(UsageEventRow.input_uncached))).one()
        requests = session.scalar(select(func.sum(UsageRollup.requests)).where(UsageRollup.bucket == "day"))
        outcomes = session.scalar(select(func.count()).select_from(OutcomeEventRow))
    assert (events, requests, outcomes) == (40, 40, 1)
    assert tokens == sum(range(1, 40)) + 1000
    (line,) = (journal / "refused.jsonl").read_bytes().splitlines()
    refused = orjson.loads(line)
    assert refused["event"][1] == bad.event_id and "status" in refused["refused"]  # the column it refused


def test_otlp_attributes_are_cut_to_their_columns_width() -> None:
    """A model or provider name of any length from an exporter fits its column (PostgreSQL refused a
    longer one, which took the whole batch down before events could be set aside)."""
    assert text("m" * 500) == "m" * 200
    assert text("p" * 500, 100) == "p" * 100
    assert text({"not": "text"}) is None


def test_clamped_and_refused_events_are_counted_for_prometheus(client: TestClient) -> None:
    """An operator learns of both from /metrics (and can alert), not only from the log."""
    recorder = client.app.state.recorder  # type: ignore[attr-defined]
    assert isinstance(recorder, Recorder)
    recorder.record_usage(usage(tokens=TokenBuckets(output=2**50)))
    recorder.record_outcome(
        OutcomeEvent(type="commit.created", occurred_at=NOW, source="otlp", quantity=math.inf)
    )
    recorder.record_usage(usage(status=None))
    recorder.record_usage(usage())
    recorder.flush(timeout=20)
    scraped = client.get("/metrics").text
    assert "meshclaw_metering_clamped_events_total 2.0" in scraped
    assert "meshclaw_metering_refused_events_total 1.0" in scraped
