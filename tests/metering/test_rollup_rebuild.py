"""The bulk rollup rebuild (`rollup_rebuild.py`) gives exactly the rows the writer gives, on a sample with
every dimension varied (none values, model only as requested, long clients, errors, hours and days
around midnight, decisions both ways, reported minutes), and raises the days' versions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from meshclaw.context import AppContext
from meshclaw.db.models import OutcomeRollup, UsageRollup
from meshclaw.db.models.metering import RollupDay
from meshclaw.metering.events import OutcomeEvent, TokenBuckets, UsageEvent
from meshclaw.metering.prices import PriceBook, add_price
from meshclaw.metering.rollup_rebuild import rebuild_rollups
from meshclaw.metering.writer import write_batch
from tests.postgres import BOTH_BACKENDS

T0 = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)


def _sample() -> tuple[list[UsageEvent], list[OutcomeEvent]]:
    rng = random.Random(3)
    usage: list[UsageEvent] = []
    outcomes: list[OutcomeEvent] = []
    for index in range(400):
        at = T0 + timedelta(minutes=rng.randrange(0, 6 * 60))  # 21:00 to 03:00: two days
        model = rng.choice(["gpt-x", "claude-y", None])
        usage.append(
            UsageEvent(
                source=rng.choice(["gateway", "otlp", "agent"]),
                started_at=at,
                ended_at=at + timedelta(seconds=1),
                status=rng.choice(["ok", "ok", "ok", "error"]),
                requested_model=model or "asked-model",
                model=model,
                tokens=TokenBuckets(
                    input_uncached=rng.randrange(100),
                    cache_read=rng.randrange(50),
                    cache_write=rng.randrange(9),
                    output=rng.randrange(70),
                    reasoning=index % 3,
                ),
                user_id=rng.choice([None, 1, 2, 3]),
                team_id=rng.choice([None, 10, 11]),
                agent_id=rng.choice([None, None, 5]),
                client=rng.choice([None, "cli", "x" * 250]),
                initiator=rng.choice(["human", "automation"]),
            )
        )
        outcomes.append(
            OutcomeEvent(
                type=rng.choice(["commit.created", "code_edit.decided", "lines_of_code.added"]),
                occurred_at=at,
                source=rng.choice(["otlp", "agent"]),
                quantity=float(rng.randrange(1, 40)),
                accepted=rng.choice([None, True, False]),
                minutes_saved=rng.choice([None, 2.5]),
                user_id=rng.choice([None, 1, 2]),
                team_id=rng.choice([None, 10]),
                agent_id=rng.choice([None, 5]),
            )
        )
    return usage, outcomes


def _rows(context: AppContext) -> dict[str, set[tuple[Any, ...]]]:
    found: dict[str, set[tuple[Any, ...]]] = {}
    with context.db.session() as session:
        for model in (UsageRollup, OutcomeRollup):
            columns = [column for column in model.__table__.columns if column.name != "id"]
            found[model.__tablename__] = {
                tuple(round(value, 6) if isinstance(value, float) else value for value in row)
                for row in session.execute(select(*columns))
            }
    return found


@BOTH_BACKENDS
@pytest.mark.parametrize("whole", [False, True], ids=["range", "whole"])
def test_rebuild_gives_the_writers_rollups(context: AppContext, whole: bool) -> None:
    usage, outcomes = _sample()
    with context.db.session() as session:
        add_price(session, model="gpt-x", input_uncached=2.0, output=8.0, cache_read=0.5,
                  effective_from=T0 - timedelta(days=1), created_by_user_id=None, now=T0)  # fmt: skip
        book = PriceBook.load(session)
    with context.db.session() as session:
        for start in range(0, len(usage), 50):  # several batches, so rows are added to, not only created
            write_batch(session, usage=usage[start : start + 50], outcomes=outcomes[start : start + 50],
                        activities=[], prices=book)  # fmt: skip
    written = _rows(context)
    with context.db.session() as session:
        versions_before = {
            day: version for day, version in session.execute(select(RollupDay.day, RollupDay.version))
        }
        session.execute(delete(UsageRollup))
        session.execute(delete(OutcomeRollup))
    assert len(written["usage_rollups"]) > 100
    since = datetime(2026, 11, 20, tzinfo=UTC)
    with context.db.engine.begin() as connection:
        if whole:
            rebuild_rollups(connection)
        else:
            rebuild_rollups(connection, since, since + timedelta(days=2))
    assert _rows(context) == written
    with context.db.session() as session:
        versions_after = {
            day: version for day, version in session.execute(select(RollupDay.day, RollupDay.version))
        }
    assert set(versions_before) == {since, since + timedelta(days=1)}
    assert all(versions_after[day] == versions_before[day] + 1 for day in versions_before)


def _expected_usage_rollups(usage: list[UsageEvent], book: PriceBook) -> set[tuple[Any, ...]]:
    """The usage rollups computed here, event by event, independently of both SQL paths."""
    sums: dict[tuple[Any, ...], list[int]] = {}
    for event in usage:
        price = book.price_at(event.model or event.requested_model, event.started_at)
        cost = price.cost_microusd(event.tokens) if price else 0
        hour = event.started_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        dims = (event.user_id or 0, event.team_id or 0, event.agent_id or 0,
                event.model or event.requested_model or "", (event.client or "")[:200], event.source,
                event.initiator)  # fmt: skip
        t = event.tokens
        values = [1, int(event.status != "ok"), t.input_uncached, t.cache_read, t.cache_write, t.output,
                  t.reasoning, cost]  # fmt: skip
        for key in (("hour", hour, *dims), ("day", hour.replace(hour=0), *dims)):
            total = sums.setdefault(key, [0] * len(values))
            total[:] = [a + b for a, b in zip(total, values, strict=True)]
    return {(*key, *values) for key, values in sums.items()}


@BOTH_BACKENDS
def test_the_writers_usage_rollups_equal_sums_of_the_events(context: AppContext) -> None:
    """The PostgreSQL writer sums in SQL, as the rebuild does, so this checks both backends against sums
    made here;
    each batch is written twice, as a replay would, and must count once."""
    usage, _ = _sample()
    with context.db.session() as session:
        add_price(session, model="gpt-x", input_uncached=2.0, output=8.0, cache_read=0.5,
                  effective_from=T0 - timedelta(days=1), created_by_user_id=None, now=T0)  # fmt: skip
        book = PriceBook.load(session)
    for start in range(0, len(usage), 50):
        for _ in range(2):
            with context.db.session() as session:
                write_batch(session, usage=usage[start : start + 50], outcomes=[], activities=[], prices=book)
    assert _rows(context)["usage_rollups"] == _expected_usage_rollups(usage, book)
