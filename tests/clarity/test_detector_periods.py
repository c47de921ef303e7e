"""Signals that need more than one week: a month-end binge against the person's own usual day, and
weeks landing just above a published target; and agents, scored against other agents."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from meshclaw.clarity.config import ClarityConfig
from meshclaw.clarity.detector import detect_flags
from meshclaw.clarity.features import collect
from meshclaw.clarity.signals import Peers, month_end_spike, target_bunching, week_end_spike
from meshclaw.db.models import User
from tests.clarity import cast
from tests.clarity.conftest import WEEK, World

MONTH_END_WEEK = date(2026, 11, 23)
"""Monday 23 to Sunday 29 November: the 28th and 29th are among the month's last three days."""


def test_month_end_binge_fires_against_the_persons_usual_day(world: World) -> None:
    cast.peers(world, MONTH_END_WEEK)
    binger = world.person("binger@example.org")
    steady_heavy = world.person(cast.HEAVY)
    for day in range(28):  # four weeks of five ordinary calls a day
        first = cast.monday(MONTH_END_WEEK - timedelta(weeks=4)) + timedelta(days=day, hours=10)
        for index in range(5):
            world.call(binger, first + timedelta(minutes=37 * index))
            world.call(steady_heavy, first + timedelta(minutes=37 * index))
    for day in range(7):
        first = cast.monday(MONTH_END_WEEK) + timedelta(days=day, hours=10)
        binge = 100 if day >= 5 else 5
        for index in range(binge):
            world.call(binger, first + timedelta(minutes=3 * index + index % 7))
        for index in range(5):
            world.call(steady_heavy, first + timedelta(minutes=37 * index))
    world.flush()
    with world.context.db.session() as session:
        subjects = collect(session, MONTH_END_WEEK)
        peers = Peers.of(s for s in subjects.values() if s.kind == "person")
        ids = {email: user_id for email, user_id in session.execute(select(User.email, User.id))}
        spike = month_end_spike(subjects[("person", ids["binger@example.org"])], peers, ClarityConfig())
        steady = month_end_spike(subjects[("person", ids[cast.HEAVY])], peers, ClarityConfig())
    assert spike is not None and spike.value == 20.0
    assert steady is None


def test_weeks_bunched_just_above_the_target(world: World) -> None:
    cast.peers(world)
    hugger = world.person("hugger@example.org")
    for weeks_back in range(5):  # 26 calls (104,000 effective tokens) a week, target 100,000
        week = WEEK - timedelta(weeks=weeks_back)
        for moment in world.working_hours(week, 2, 13):
            world.call(hugger, moment)
    world.flush()
    config = ClarityConfig(weekly_token_target=100_000)
    with world.context.db.session() as session:
        subjects = collect(session, WEEK)
        peers = Peers.of(s for s in subjects.values() if s.kind == "person")
        ids = {email: user_id for email, user_id in session.execute(select(User.email, User.id))}
        bunched = target_bunching(subjects[("person", ids["hugger@example.org"])], peers, config)
        steady = target_bunching(subjects[("person", ids["steady0@example.org"])], peers, config)
    assert bunched is not None and bunched.value == 5.0
    assert steady is None  # 120,000 this week: above the band, and no history


def test_an_agent_burning_tokens_without_outcomes_is_flagged_as_an_agent(world: World) -> None:
    owner = world.person("owner@example.org")
    for agent_id in (1, 2, 3, 4):
        moments = world.working_hours(WEEK, 5, 20)
        for moment in moments:
            world.call(owner, moment, agent_id=agent_id)
        for moment in moments[::4]:
            world.outcome(owner, moment, "email.triaged", agent_id=agent_id)
    for moment in world.working_hours(WEEK, 5, 60):
        world.call(owner, moment, agent_id=9)
    world.flush()
    with world.context.db.session() as session:
        flags = detect_flags(session, WEEK)
    assert [(flag.kind, flag.subject, flag.agent_id, flag.user_id) for flag in flags] == [
        ("agent", "agent 9", 9, owner.id)
    ]
    assert flags[0].signals[0].name == "low_yield"
    assert flags[0].evidence[0].startswith("/api/v1/usage?agent=9")


def test_average_use_with_little_value_gives_company_to_a_pattern(world: World) -> None:
    """Someone using AI about as much as their peers (not the heaviest quarter) who throws away most edits
    is flagged by `discard_rate` with `below_peer_yield`; either alone would not be enough."""
    cast.peers(world)
    for index in range(6):  # heavier steady people, so the heaviest quarter starts above the subject
        world.steady(world.person(f"big-steady{index}@example.org"), days=4, calls_per_day=15)
    discarder = world.person("quiet-discarder@example.org")
    moments = world.working_hours(WEEK, 4, 10)  # 40 calls: 160,000 effective tokens
    for moment in moments:
        world.call(discarder, moment)
    for index, moment in enumerate(moments[:20]):
        world.outcome(discarder, moment, "code_edit.decided", accepted=index < 2)
    world.flush()
    with world.context.db.session() as session:
        flags = detect_flags(session, WEEK)
    assert [(flag.subject, {s.name for s in flag.signals}) for flag in flags] == [
        ("quiet-discarder@example.org", {"discard_rate", "below_peer_yield"})
    ]


def test_friday_binge_before_a_weekly_snapshot(world: World) -> None:
    cast.peers(world)
    binger = world.person("friday@example.org")
    even = world.person("even@example.org")
    for day in range(33):  # four weeks before and this week, Monday to Friday
        at = cast.monday(WEEK - timedelta(weeks=4)) + timedelta(days=day, hours=10)
        if at.weekday() >= 5:
            continue
        calls = 100 if at.weekday() == 4 else 5
        for index in range(calls):
            world.call(binger, at + timedelta(minutes=3 * index + index % 5))
        for index in range(5):
            world.call(even, at + timedelta(minutes=37 * index))
    world.flush()
    with world.context.db.session() as session:
        subjects = collect(session, WEEK)
        peers = Peers.of(s for s in subjects.values() if s.kind == "person")
        ids = {email: user_id for email, user_id in session.execute(select(User.email, User.id))}
        spike = week_end_spike(subjects[("person", ids["friday@example.org"])], peers, ClarityConfig())
        calm = week_end_spike(subjects[("person", ids["even@example.org"])], peers, ClarityConfig())
    assert spike is not None and spike.value == 20.0
    assert calm is None
