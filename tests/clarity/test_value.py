"""Usage and cost with effective tokens, the month-end forecast, outcomes and value, and leaderboards
ranked by outcomes: all from the rollups of calls recorded through the real recorder."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from meshclaw.clarity.config import ClarityConfig
from meshclaw.clarity.costs import usage_rows
from meshclaw.clarity.forecast import month_forecast
from meshclaw.clarity.leaderboard import people_board
from meshclaw.clarity.outcomes import outcome_report
from meshclaw.clarity.ranges import DateRange
from meshclaw.metering.events import OutcomeEvent, TokenBuckets, UsageEvent
from meshclaw.metering.prices import add_price
from meshclaw.metering.queries import Scope
from tests.clarity.cast import monday
from tests.clarity.conftest import WEEK, World

CALL_COST = 10_000
"""micro-USD of one test call: 2,000 input at $2.50/M and 500 output at $10/M."""


@pytest.fixture
def priced(world: World) -> World:
    with world.context.db.session() as session:
        add_price(
            session,
            model="gpt-4o",
            input_uncached=2.5,
            output=10.0,
            effective_from=datetime(2026, 1, 1, tzinfo=UTC),
            created_by_user_id=None,
            now=datetime(2026, 1, 1, tzinfo=UTC),
        )
    world.recorder.prices_changed()
    return world


def test_forecast_uses_the_full_days_so_far_and_the_last_weeks_pace(priced: World) -> None:
    world = priced
    person = world.person("spender@example.org")
    for day in range(1, 20):
        at = datetime(2026, 11, day, 10, tzinfo=UTC)
        for index in range(4 if day >= 13 else 1):
            world.call(person, at + timedelta(minutes=index))
    for index in range(2):
        world.call(person, datetime(2026, 11, 20, 8, index, tzinfo=UTC))
    world.flush()
    with world.context.db.session() as session:
        forecast = month_forecast(session, Scope.all(), as_of=date(2026, 11, 20))
    assert (forecast.days_elapsed, forecast.days_left) == (19, 11)
    assert forecast.month_to_date_cost_microusd == (19 + 21 + 2) * CALL_COST
    assert forecast.pace_cost_microusd_per_day == 4 * CALL_COST
    assert forecast.forecast_cost_microusd == (19 + 21) * CALL_COST + 11 * 4 * CALL_COST
    assert forecast.forecast_tokens == (19 + 21) * 2500 + 11 * 4 * 2500


def test_effective_tokens_weigh_buckets_and_models(priced: World) -> None:
    world = priced
    person = world.person("mixer@example.org")
    world.call(person, monday(WEEK) + timedelta(hours=9))
    world.recorder.record_usage(
        UsageEvent(
            source="gateway",
            started_at=monday(WEEK) + timedelta(hours=10),
            ended_at=monday(WEEK) + timedelta(hours=10, seconds=3),
            model="claude-opus-4",
            tokens=TokenBuckets(input_uncached=1000, cache_read=10_000, output=100, reasoning=100),
            user_id=person.id,
        )
    )
    world.flush()
    window = DateRange(since=WEEK, until=WEEK + timedelta(days=7))
    with world.context.db.session() as session:
        rows = {row.key: row for row in usage_rows(session, Scope.all(), window, group_by="model")}
        daily = usage_rows(session, Scope.all(), window, group_by=None, daily=True)
    assert rows["gpt-4o"].effective_tokens == 4000.0
    # (1,000 + 10,000 x 0.1 + 100 x 4 + 100 x 4) x 5 for an opus model
    assert rows["claude-opus-4"].effective_tokens == 14_000.0
    assert rows["claude-opus-4"].tokens["cache_read"] == 10_000
    assert rows["gpt-4o"].cost_microusd == CALL_COST
    assert [(row.day, row.requests) for row in daily] == [(WEEK, 2)]


def test_outcomes_by_type_minutes_saved_and_cost_per_outcome(priced: World) -> None:
    world = priced
    person = world.person("coder@example.org")
    at = monday(WEEK) + timedelta(hours=10)
    for index in range(10):
        world.call(person, at + timedelta(minutes=index))
        world.outcome(person, at, "commit.created")
    world.recorder.record_outcome(
        OutcomeEvent(
            type="pull_request.created", occurred_at=at, source="otlp", user_id=person.id, minutes_saved=45.0
        )
    )
    for accepted in (True, True, True, False):
        world.outcome(person, at, "code_edit.decided", accepted=accepted)
    world.outcome(person, at, "lines_of_code.added", quantity=250)
    world.flush()
    window = DateRange(since=WEEK, until=WEEK + timedelta(days=7))
    with world.context.db.session() as session:
        report = outcome_report(session, Scope.all(), window, ClarityConfig())
    types = {item.type: item for item in report.types}
    assert types["commit.created"].minutes_saved == 100.0
    assert types["pull_request.created"].minutes_saved == 45.0  # reported on the event, not estimated
    assert types["code_edit.decided"].acceptance_rate == 0.75
    assert types["code_edit.decided"].minutes_saved == 6.0
    assert types["commit.created"].acceptance_rate is None
    assert report.value_units == 10 + 1 + 3 + 2.5
    assert report.minutes_saved == 151.0
    assert report.cost_microusd == 10 * CALL_COST
    assert report.tokens_per_outcome == round(25_000 / 16.5, 1)
    assert report.coding == {
        "commits": 10.0,
        "pull_requests": 1.0,
        "lines_added": 250.0,
        "lines_removed": 0.0,
        "edits_accepted": 3.0,
        "edits_rejected": 1.0,
    }


def test_leaderboard_ranks_by_outcomes_or_yield_never_by_tokens(priced: World) -> None:
    world = priced
    at = monday(WEEK) + timedelta(hours=10)
    people = {}
    for email, calls, commits in (
        ("steady@example.org", 30, 10),
        ("frugal@example.org", 4, 4),
        ("prolific@example.org", 300, 20),
        ("handwork@example.org", 0, 2),
        ("burner@example.org", 600, 1),
    ):
        person = world.person(email)
        people[person.id] = email
        for index in range(calls):
            world.call(person, at + timedelta(seconds=10 * index))
        for _ in range(commits):
            world.outcome(person, at, "commit.created")
    world.flush()
    window = DateRange(since=WEEK, until=WEEK + timedelta(days=7))
    with world.context.db.session() as session:
        by_outcomes = people_board(session, window, people, rank_by="outcomes")
        by_yield = people_board(session, window, people, rank_by="yield")
    assert [(e.rank, e.label) for e in by_outcomes] == [
        (1, "prolific@example.org"),
        (2, "steady@example.org"),
        (3, "frugal@example.org"),
        (4, "handwork@example.org"),
        (5, "burner@example.org"),
    ]
    assert [e.label for e in by_yield] == [
        "frugal@example.org",
        "steady@example.org",
        "prolific@example.org",
        "burner@example.org",
        "handwork@example.org",  # no yield below 10,000 effective tokens: ranked after those with one
    ]
    assert by_yield[0].outcomes_per_1k_effective_tokens == 0.25
    assert by_yield[-1].outcomes_per_1k_effective_tokens is None
    assert not any("token" in field and "per_1k" not in field for field in by_yield[0].__dataclass_fields__)
