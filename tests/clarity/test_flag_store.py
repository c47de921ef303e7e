"""Stored flags: scoring a week keeps reviews, a dismissal suppresses the same pattern for that subject
(and only that pattern), and reading a range scores the weeks that need it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meshclaw.clarity.detector import detect_flags
from meshclaw.clarity.flag_store import ensure_scored, list_flags, refresh_week, review_flag
from meshclaw.errors import BadRequestError, NotFoundError
from tests.clarity import cast
from tests.clarity.conftest import WEEK, World

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
