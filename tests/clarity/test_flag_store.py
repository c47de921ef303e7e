"""Stored flags: scoring a week keeps reviews, a dismissal suppresses the same pattern for that subject
(and only that pattern), reading a range scores the weeks that are due, and a week is due again when
the data it was scored from moved on (late events), not because it ended: which lets the upkeep score
weeks in the background without freezing what a later read would have seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from meshclaw.clarity.detector import detect_flags
from meshclaw.clarity.flag_store import (
    SCORE_WEEKS,
    data_version,
    ensure_scored,
    is_due,
    list_flags,
    refresh_week,
    review_flag,
    score_due,
)
from meshclaw.clarity.upkeep import Upkeep
from meshclaw.clock import FrozenClock
from meshclaw.db.models import ClarityDetectionRun
from meshclaw.errors import BadRequestError, NotFoundError
from tests.clarity import cast
from tests.clarity.conftest import WEEK, World
from tests.postgres import BOTH_BACKENDS

AFTER_WEEK = datetime(2026, 11, 16, 9, tzinfo=UTC)


@pytest.fixture
def grinder_world(world: World) -> World:
    cast.peers(world)
    cast.heavy(world)
    cast.low_yield(world)
    world.flush()
    return world


def test_dismissal_suppresses_the_same_pattern_but_not_a_new_signal(grinder_world: World) -> None:
    world = grinder_world
    reviewer = world.person("reviewer@example.org")
    with world.context.db.session() as session:
        assert refresh_week(session, WEEK, now=AFTER_WEEK) == 1
        (stored,) = list_flags(session, WEEK, WEEK)
        assert stored.flag.subject == "grinder@example.org" and stored.status == "open"
        reviewed = review_flag(
            session, stored.id, "dismissed", note="on-call week", by_user_id=reviewer.id, now=AFTER_WEEK
        )
        assert reviewed.status == "dismissed" and reviewed.reviewed_by_user_id == reviewer.id
    next_week = WEEK + timedelta(weeks=1)
    grinder = next(p for p in world.people_added if p.email == "grinder@example.org")
    # Next week: the same low yield again is suppressed ...
    for person in world.people_added:
        if person.email.startswith("steady"):
            world.steady(person, next_week)
    for moment in world.working_hours(next_week, 5, 60):
        world.call(grinder, moment)
    world.flush()
    with world.context.db.session() as session:
        assert detect_flags(session, next_week) == []
        # ... and the dismissed flag of the first week stays as the reviewer left it after re-scoring.
        refresh_week(session, WEEK, now=AFTER_WEEK + timedelta(days=1))
        (kept,) = list_flags(session, WEEK, WEEK)
        assert kept.status == "dismissed" and kept.review_note == "on-call week"
    # A new signal (the same prompt over and over) brings the subject back.
    for moment in world.working_hours(next_week, 5, 80):
        world.call(grinder, moment, prompt_hash="f" * 32)
    world.flush()
    with world.context.db.session() as session:
        (flag,) = detect_flags(session, next_week)
        assert flag.subject == "grinder@example.org"
        assert {s.name for s in flag.signals} == {"low_yield", "prompt_repetition"}


def test_reading_a_range_scores_finished_weeks_once(grinder_world: World) -> None:
    with grinder_world.context.db.session() as session:
        ensure_scored(session, WEEK, WEEK + timedelta(days=20), now=AFTER_WEEK)
        assert [s.flag.subject for s in list_flags(session, WEEK, WEEK + timedelta(weeks=3))] == [
            "grinder@example.org"
        ]
    with grinder_world.context.db.session() as session:
        (stored,) = list_flags(session, WEEK, WEEK)
        review_flag(session, stored.id, "confirmed", note=None, by_user_id=1, now=AFTER_WEEK)
        ensure_scored(session, WEEK, WEEK, now=AFTER_WEEK + timedelta(days=3))
        (again,) = list_flags(session, WEEK, WEEK)
        assert again.id == stored.id and again.status == "confirmed"


def test_review_refuses_unknown_status_and_flag(grinder_world: World) -> None:
    with grinder_world.context.db.session() as session:
        refresh_week(session, WEEK, now=AFTER_WEEK)
        (stored,) = list_flags(session, WEEK, WEEK)
        with pytest.raises(BadRequestError):
            review_flag(session, stored.id, "ignored", note=None, by_user_id=1, now=AFTER_WEEK)
        with pytest.raises(NotFoundError):
            review_flag(session, stored.id + 100, "confirmed", note=None, by_user_id=1, now=AFTER_WEEK)


@BOTH_BACKENDS
def test_a_week_scored_early_is_scored_again_when_late_events_arrive(world: World) -> None:
    """The trap of scoring in the background: the week is scored (here before late events), its flags
    must not be frozen. Late events raise the data version and make the week due again at once."""
    peers = cast.peers(world)
    world.flush()
    with world.context.db.session() as session:
        assert refresh_week(session, WEEK, now=AFTER_WEEK) == 0
        assert not is_due(session, WEEK, now=AFTER_WEEK + timedelta(days=30))
        before = data_version(session, WEEK)
    late = world.person("grinder@example.org")  # an import of the week's usage, a day after it ended
    for moment in world.working_hours(WEEK, 5, 60):
        world.call(late, moment)
    world.outcome(late, cast.monday(WEEK))
    world.activity(peers[0], cast.monday(WEEK) + timedelta(hours=10), "tool_result", tool_name="Read")
    world.flush()
    with world.context.db.session() as session:
        assert data_version(session, WEEK) > before
        assert is_due(session, WEEK, now=AFTER_WEEK + timedelta(minutes=1))
        ensure_scored(session, WEEK, WEEK, now=AFTER_WEEK + timedelta(minutes=1))
        assert [s.flag.subject for s in list_flags(session, WEEK, WEEK)] == ["grinder@example.org"]
        assert not is_due(session, WEEK, now=AFTER_WEEK + timedelta(days=1))


@BOTH_BACKENDS
def test_a_week_under_way_is_scored_again_at_most_every_quarter_hour(grinder_world: World) -> None:
    world = grinder_world
    during = datetime(2026, 11, 12, 12, tzinfo=UTC)
    with world.context.db.session() as session:
        refresh_week(session, WEEK, now=during)
    world.call(world.people_added[0], during - timedelta(hours=1))
    world.flush()
    with world.context.db.session() as session:
        assert not is_due(session, WEEK, now=during + timedelta(minutes=5))
        assert is_due(session, WEEK, now=during + timedelta(minutes=15))
        assert is_due(session, WEEK, now=AFTER_WEEK)  # ended since: at once


def test_weeks_scored_before_versions_keep_their_rule(grinder_world: World) -> None:
    with grinder_world.context.db.session() as session:
        session.add(ClarityDetectionRun(week_start=WEEK, ran_at=AFTER_WEEK, flags=0))
        session.add(ClarityDetectionRun(week_start=WEEK - timedelta(weeks=1), ran_at=AFTER_WEEK - timedelta(weeks=1, days=2), flags=0))  # fmt: skip
        session.flush()
        assert not is_due(session, WEEK, now=AFTER_WEEK + timedelta(days=9))  # scored after its end: final
        assert is_due(session, WEEK - timedelta(weeks=1), now=AFTER_WEEK)  # scored while under way


@BOTH_BACKENDS
def test_the_upkeep_scores_due_weeks_with_data_newest_first(grinder_world: World) -> None:
    world = grinder_world
    next_week = WEEK + timedelta(weeks=1)
    for person in world.people_added[:3]:
        world.steady(person, next_week)
    world.flush()
    now = AFTER_WEEK + timedelta(weeks=1)
    with world.context.db.session() as session:
        assert score_due(session, now=now, limit=1) == [next_week]
    upkeep = Upkeep(world.context.db, clock=FrozenClock(now))
    assert upkeep.score_flags() == 1  # WEEK; the other weeks of SCORE_WEEKS have no data
    assert upkeep.score_flags() == 0
    with world.context.db.session() as session:
        assert [s.flag.subject for s in list_flags(session, WEEK, WEEK)] == ["grinder@example.org"]
        runs = session.scalars(select(ClarityDetectionRun.week_start)).all()
        assert sorted(runs) == [WEEK, next_week]
        assert score_due(session, now=now + timedelta(weeks=SCORE_WEEKS), limit=5) == []  # out of reach
