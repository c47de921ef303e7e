"""The detector on a hand-built week: each signal fires on the tokenmaxxer built for it, and neither
the genuine heavy user (as many tokens, outcomes in proportion) nor steady people are flagged."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.clarity.config import DEFAULTS
from meshclaw.clarity.detector import detect_flags
from meshclaw.clarity.features import SubjectWeek, collect
from meshclaw.clarity.flags import Flag
from meshclaw.clarity.signals import RULES, SIGNAL_NAMES, Peers
from meshclaw.db.models import User
from tests.clarity import cast
from tests.clarity.conftest import WEEK, World


@pytest.fixture
def cast_world(world: World) -> World:
    cast.peers(world)
    cast.heavy(world)
    for build in cast.MAXXERS.values():
        build(world)
    world.flush()
    return world


@pytest.fixture
def session(cast_world: World) -> Iterator[Session]:
    with cast_world.context.db.session() as session:
        yield session


def fired(subjects: dict[tuple[str, int], SubjectWeek], user_id: int) -> set[str]:
    group = [s for s in subjects.values() if s.kind == "person"]
    peers = Peers.of(group)
    subject = subjects[("person", user_id)]
    return {signal.name for rule in RULES if (signal := rule(subject, peers, DEFAULTS)) is not None}


MAXXER_EMAILS = {
    "low_yield": "grinder@example.org",
    "prompt_repetition": "looper@example.org",
    "machine_cadence": "metronome@example.org",
    "personal_key_automation": "scripter@example.org",
    "read_only": "reader@example.org",
    "discard_rate": "discarder@example.org",
    "fan_out": "fanner@example.org",
    "error_loop": "retrier@example.org",
}


def by_subject(flags: list[Flag]) -> dict[str, Flag]:
    return {flag.subject: flag for flag in flags}


def test_every_tokenmaxxer_is_flagged_with_its_signal_and_nobody_else(session: Session) -> None:
    flags = by_subject(detect_flags(session, WEEK))
    assert set(flags) == set(MAXXER_EMAILS.values())
    for signal, email in MAXXER_EMAILS.items():
        assert signal in {s.name for s in flags[email].signals}, (email, flags[email].signals)


@pytest.mark.parametrize("signal", list(cast.MAXXERS))
def test_signal_fires_on_its_maxxer_not_on_the_heavy_user(session: Session, signal: str) -> None:
    subjects = collect(session, WEEK)
    ids = {email: user_id for email, user_id in session.execute(select(User.email, User.id))}
    assert signal in fired(subjects, ids[MAXXER_EMAILS[signal]])
    assert fired(subjects, ids[cast.HEAVY]) == set()


def test_flag_explains_itself(session: Session) -> None:
    flag = by_subject(detect_flags(session, WEEK))["grinder@example.org"]
    assert flag.kind == "person" and flag.week_start == WEEK
    assert flag.score >= 1.0
    low = next(s for s in flag.signals if s.name == "low_yield")
    assert low.value < low.baseline / 4
    assert abs(low.baseline - 0.1) < 0.01
    assert "low_yield" in flag.explanation and "peer" in flag.explanation
    assert any(link.startswith("/api/v1/usage?user=") for link in flag.evidence)


def test_signal_names_are_the_rules() -> None:
    assert set(SIGNAL_NAMES) == {rule.__name__ for rule in RULES}


def test_a_productive_heavy_user_with_scripted_repetitive_calls_is_not_flagged(world: World) -> None:
    """Signals that would flag a low-yield user count half for someone whose outcomes keep pace."""
    cast.peers(world)
    person = world.person("productive-scripter@example.org")
    moments = world.working_hours(WEEK, 5, 60)
    for index, moment in enumerate(moments):
        world.call(
            person, moment, prompt_hash=f"{index % 3:032x}", initiator="automation", client="python-sdk"
        )
    for moment in moments[::2]:
        world.outcome(person, moment, "commit.created")
    world.flush()
    with world.context.db.session() as session:
        subjects = collect(session, WEEK)
        assert fired(subjects, person.id) == {"prompt_repetition", "personal_key_automation"}
        assert detect_flags(session, WEEK) == []
