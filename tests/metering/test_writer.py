"""Writing batches: rows read back exactly through the ORM, rollups sum correctly, and a batch written
twice (a replay or a retry) is counted once. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import func, select

from meshclaw.context import AppContext
from meshclaw.db.models import ActivityEventRow, OutcomeEventRow, OutcomeRollup, UsageEventRow, UsageRollup
from meshclaw.metering.events import ActivityEvent, OutcomeEvent, TokenBuckets, UsageEvent
from meshclaw.metering.prices import PriceBook, add_price
from meshclaw.metering.writer import write_batch
from tests.postgres import BOTH_BACKENDS

T0 = datetime(2026, 11, 20, 9, 15, 30, 123456, tzinfo=UTC)


def usage(minutes: int, *, user_id: int = 7, model: str = "gpt-x", status: str = "ok") -> UsageEvent:
    started = T0 + timedelta(minutes=minutes)
    return UsageEvent(
        source="gateway",
        started_at=started,
        ended_at=started + timedelta(milliseconds=1250),
        status=status,  # type: ignore[arg-type]
        error=None if status == "ok" else "upstream answered 500",
        provider="openai",
        requested_model=model,
        model=model,
        tokens=TokenBuckets(input_uncached=100, cache_read=50, cache_write=0, output=20, reasoning=10),
        raw_usage={"prompt_tokens": 150, "completion_tokens": 30},
        user_id=user_id,
        team_id=3,
        api_key_id=11,
        client="openai-python/2.0",
        prompt_hash="f" * 32,
        attributes={"route": "/v1/chat/completions"},
    )


def prices(context: AppContext) -> PriceBook:
    with context.db.session() as session:
        add_price(session, model="gpt-x", input_uncached=2.0, output=8.0, cache_read=0.5,
                  effective_from=T0 - timedelta(days=1), created_by_user_id=None, now=T0)  # fmt: skip
        return PriceBook.load(session)


@BOTH_BACKENDS
def test_usage_rows_read_back_exactly(context: AppContext) -> None:
    event = usage(0)
    with context.db.session() as session:
        assert write_batch(session, usage=[event], outcomes=[], activities=[], prices=prices(context)) == (
            1,
            0,
            0,
        )
    with context.db.session() as session:
        row = session.scalars(select(UsageEventRow)).one()
    assert row.event_id == event.event_id
    assert row.started_at == event.started_at and row.ended_at == event.ended_at
    assert row.latency_ms == 1250
    assert (row.input_uncached, row.cache_read, row.cache_write, row.output, row.reasoning) == (
        100,
        50,
        0,
        20,
        10,
    )
    # 100 x 2.0 + 50 x 0.5 + 20 x 8.0 + 10 x 8.0 micro-dollars
    assert row.cost_microusd == 200 + 25 + 160 + 80
    assert row.price_id is not None
    assert row.raw_usage == {"prompt_tokens": 150, "completion_tokens": 30}
    assert row.attributes == {"route": "/v1/chat/completions"}
    assert (row.user_id, row.team_id, row.api_key_id, row.client) == (7, 3, 11, "openai-python/2.0")
    assert (row.source, row.initiator, row.status, row.prompt_hash) == ("gateway", "human", "ok", "f" * 32)


@BOTH_BACKENDS
def test_times_in_other_zones_are_stored_as_utc_and_bucketed_by_utc_hour(context: AppContext) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    event = usage(0)
    event.started_at = datetime(2026, 11, 20, 23, 45, tzinfo=india)  # 18:15 UTC
    event.ended_at = event.started_at + timedelta(seconds=1)
    with context.db.session() as session:
        write_batch(session, usage=[event], outcomes=[], activities=[], prices=PriceBook([]))
    with context.db.session() as session:
        stored = session.scalars(select(UsageEventRow.started_at)).one()
        hours = session.scalars(select(UsageRollup.bucket_start).where(UsageRollup.bucket == "hour")).all()
        days = session.scalars(select(UsageRollup.bucket_start).where(UsageRollup.bucket == "day")).all()
    assert stored == datetime(2026, 11, 20, 18, 15, tzinfo=UTC)
    assert hours == [datetime(2026, 11, 20, 18, tzinfo=UTC)]
    assert days == [datetime(2026, 11, 20, tzinfo=UTC)]


@BOTH_BACKENDS
def test_rollups_sum_per_hour_and_day_and_dimension(context: AppContext) -> None:
    # Two hours, two users, one failed call; 90 minutes apart lands in two hour buckets of one day.
    events = [usage(0), usage(10), usage(90, status="error"), usage(20, user_id=8)]
    with context.db.session() as session:
        write_batch(session, usage=events, outcomes=[], activities=[], prices=prices(context))
    with context.db.session() as session:
        rollups = session.scalars(
            select(UsageRollup).order_by(UsageRollup.bucket, UsageRollup.bucket_start)
        ).all()
    day = {r.user_id: r for r in rollups if r.bucket == "day"}
    hours = [(r.bucket_start.hour, r.user_id, r.requests, r.errors) for r in rollups if r.bucket == "hour"]
    assert sorted(hours) == [(9, 7, 2, 0), (9, 8, 1, 0), (10, 7, 1, 1)]
    assert (day[7].requests, day[7].errors, day[7].input_uncached, day[7].cost_microusd) == (
        3,
        1,
        300,
        3 * 465,
    )
    assert (day[8].requests, day[8].team_id, day[8].agent_id, day[8].model) == (1, 3, 0, "gpt-x")


@BOTH_BACKENDS
def test_rollups_merge_events_whose_dimensions_differ_only_in_how_none_is_written(
    context: AppContext,
) -> None:
    """Rollups store 0 and '' for "none" and the requested model when the answer names none, so these
    three events of one hour are one rollup row (SQLite groups rows as stored before normalizing)."""
    first, second, third = usage(0), usage(1), usage(2)
    first.client = None
    second.model, second.client, second.agent_id = None, None, 0
    third.model, third.client = "", ""
    with context.db.session() as session:
        write_batch(session, usage=[first, second, third], outcomes=[], activities=[], prices=prices(context))
    with context.db.session() as session:
        rows = session.execute(
            select(
                UsageRollup.bucket,
                UsageRollup.model,
                UsageRollup.client,
                UsageRollup.agent_id,
                UsageRollup.requests,
                UsageRollup.cost_microusd,
            )
        ).all()
    one = 200 + 25 + 160 + 80  # micro-dollars per event, as in test_usage_rows_read_back_exactly
    assert sorted(rows) == [("day", "gpt-x", "", 0, 3, 3 * one), ("hour", "gpt-x", "", 0, 3, 3 * one)]


@BOTH_BACKENDS
def test_a_batch_written_twice_counts_once(context: AppContext) -> None:
    events = [usage(minute) for minute in range(5)]
    outcome = OutcomeEvent(type="email.triaged", occurred_at=T0, source="agent", user_id=7, accepted=True)
    activity = ActivityEvent(name="tool_result", occurred_at=T0, source="otlp", user_id=7)
    book = prices(context)
    with context.db.session() as session:
        assert write_batch(session, usage=events[:3], outcomes=[outcome], activities=[activity], prices=book) == (
            3, 1, 1,
        )  # fmt: skip
    with context.db.session() as session:  # a replay of the same journal, plus two new events
        assert write_batch(session, usage=events, outcomes=[outcome], activities=[activity], prices=book) == (
            2,
            0,
            0,
        )
    with context.db.session() as session:
        assert session.scalar(select(func.count()).select_from(UsageEventRow)) == 5
        assert session.scalar(select(func.sum(UsageRollup.requests)).where(UsageRollup.bucket == "day")) == 5
        assert session.scalar(select(func.count()).select_from(OutcomeEventRow)) == 1
        assert session.scalar(select(func.count()).select_from(ActivityEventRow)) == 1
        rollup = session.scalars(select(OutcomeRollup).where(OutcomeRollup.bucket == "day")).one()
    assert (rollup.count, rollup.accepted, rollup.rejected, rollup.type) == (1, 1, 0, "email.triaged")


@BOTH_BACKENDS
def test_the_same_event_twice_in_one_batch_counts_once(context: AppContext) -> None:
    event = usage(0)
    with context.db.session() as session:
        assert write_batch(
            session, usage=[event, event], outcomes=[], activities=[], prices=PriceBook([])
        ) == (1, 0, 0)
    with context.db.session() as session:
        assert session.scalar(select(func.sum(UsageRollup.requests)).where(UsageRollup.bucket == "day")) == 1


@BOTH_BACKENDS
def test_batches_larger_than_one_statement(context: AppContext) -> None:
    # More rows than one multi-row INSERT holds, and rollup groups beyond one statement too.
    events = [usage(index % 50, user_id=index) for index in range(2500)]
    with context.db.session() as session:
        assert (
            write_batch(session, usage=events, outcomes=[], activities=[], prices=prices(context))[0] == 2500
        )
    with context.db.session() as session:
        assert session.scalar(select(func.count()).select_from(UsageEventRow)) == 2500
        assert (
            session.scalar(select(func.count()).select_from(UsageRollup).where(UsageRollup.bucket == "day"))
            == 2500
        )
        assert session.scalar(
            select(func.sum(UsageRollup.cost_microusd)).where(UsageRollup.bucket == "hour")
        ) == (2500 * 465)


@BOTH_BACKENDS
def test_a_replay_larger_than_one_statement_counts_each_event_once(context: AppContext) -> None:
    # Stored and new events interleaved across several multi-row INSERTs, and one new event again in a
    # later statement: each event is stored once and counted once in the rollups.
    stored = [usage(index % 50, user_id=index) for index in range(1500)]
    new = [usage(index % 50, user_id=index) for index in range(1500)]
    book = prices(context)
    with context.db.session() as session:
        assert write_batch(session, usage=stored, outcomes=[], activities=[], prices=book)[0] == 1500
    replay = [event for pair in zip(stored, new, strict=True) for event in pair] + [new[0], stored[1]]
    with context.db.session() as session:
        assert write_batch(session, usage=replay, outcomes=[], activities=[], prices=book)[0] == 1500
    with context.db.session() as session:
        assert session.scalar(select(func.count()).select_from(UsageEventRow)) == 3000
        for bucket in ("hour", "day"):
            requests, cost = session.execute(
                select(func.sum(UsageRollup.requests), func.sum(UsageRollup.cost_microusd)).where(
                    UsageRollup.bucket == bucket
                )
            ).one()
            assert (requests, cost) == (3000, 3000 * 465)
