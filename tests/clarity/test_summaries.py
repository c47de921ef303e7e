"""Clarity's day and week tables (`summaries.py`) give the numbers the rollups give: every
organization-wide view computed from the rollups alone (nothing summed yet), then from the tables after
`refresh`, then with one day changed after the refresh (read from its rollups), is the same; so are the
week tables (usage per week, adoption per team and week) over ranges of whole and partial weeks, after a
person moves team or leaves, and under another active rule. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from meshclaw.clarity.adoption import adoption_weeks, person_week_history
from meshclaw.clarity.config import DEFAULTS, ClarityConfig
from meshclaw.clarity.costs import GROUP_BYS, usage_rows
from meshclaw.clarity.forecast import month_forecast
from meshclaw.clarity.freshness import stale_days
from meshclaw.clarity.leaderboard import teams_board
from meshclaw.clarity.outcomes import outcome_report
from meshclaw.clarity.people import load_roster
from meshclaw.clarity.ranges import DateRange
from meshclaw.clarity.settings_store import load_config, save_config
from meshclaw.clarity.summaries import refresh
from meshclaw.clarity.upkeep import Upkeep
from meshclaw.db.models import User
from meshclaw.db.models.clarity import (
    ClarityAdoptionWeek,
    ClarityOutcomeWeek,
    ClarityPersonWeek,
    ClaritySummaryDay,
    ClaritySummaryWeek,
    ClarityTeamWeek,
    ClarityUsageDay,
    ClarityUsageWeek,
)
from meshclaw.metering.events import OutcomeEvent
from meshclaw.metering.queries import Scope
from tests.clarity.conftest import WEEK, World
from tests.conftest import Person
from tests.postgres import BOTH_BACKENDS

pytestmark = BOTH_BACKENDS

WINDOW = DateRange(since=WEEK - timedelta(days=7), until=WEEK + timedelta(days=7))
MONDAYS = [WEEK - timedelta(days=7), WEEK]
RAGGED = DateRange(since=WEEK - timedelta(days=10), until=WEEK + timedelta(days=10))
"""Whole weeks in the middle (from `clarity_usage_weeks`), days on either side."""


def _seed(world: World) -> list[Person]:
    """Two teams over two weeks: steady people, a heavy one, automation, reported minutes, rejections."""
    other = world.people.team("Other")
    people = [
        world.person(f"p{index}@example.org", team_id=other if index % 2 else None) for index in range(7)
    ]
    for index, person in enumerate(people):
        for monday in MONDAYS:
            world.steady(person, monday, days=1 + index % 5, calls_per_day=3 + index)
    heavy = people[0]
    start = datetime(WEEK.year, WEEK.month, WEEK.day, 10, tzinfo=UTC)
    for hour in range(30):
        world.call(
            heavy, start + timedelta(hours=hour % 8, minutes=hour), initiator="automation", client="bot"
        )
        world.call(heavy, start + timedelta(days=1, minutes=hour), agent_id=4)
    world.recorder.record_outcome(
        OutcomeEvent(type="review.completed", occurred_at=start, source="otlp", minutes_saved=12.0,
                     user_id=people[1].id, accepted=True)
    )  # fmt: skip
    world.outcome(people[2], start, "code_edit.decided", accepted=False)
    world.outcome(people[3], start, "lines_of_code.added", quantity=250.0)
    world.flush()
    return people


def _numbers(world: World, org_id: int, person: Person) -> dict[str, Any]:
    with world.context.db.session() as session:
        roster = load_roster(session, org_id)
        found: dict[str, Any] = {}
        for group_by in (None, *GROUP_BYS):
            for daily in (False, True):
                found[f"usage {group_by} {daily}"] = usage_rows(
                    session, Scope.all(), WINDOW, group_by=group_by, daily=daily
                )
            found[f"usage {group_by} ragged"] = usage_rows(session, Scope.all(), RAGGED, group_by=group_by)
        found["agent ragged"] = usage_rows(session, Scope.all(), RAGGED, group_by="agent", agent_id=4)
        found["agent daily"] = usage_rows(
            session, Scope.all(), WINDOW, group_by="agent", daily=True, agent_id=4
        )
        found["outcomes"] = outcome_report(session, Scope.all(), WINDOW, DEFAULTS)
        found["agent outcomes"] = outcome_report(session, Scope.all(), WINDOW, DEFAULTS, agent_id=4)
        teams = {team_id: name for team_id, name in roster.team_names.items()}
        found["teams board"] = teams_board(session, WINDOW, teams, roster.team_sizes, rank_by="outcomes")
        found["teams yield"] = teams_board(session, WINDOW, teams, roster.team_sizes, rank_by="yield")
        found["teams ragged"] = teams_board(session, RAGGED, teams, roster.team_sizes, rank_by="yield")
        found["forecast"] = month_forecast(session, Scope.all(), as_of=WEEK + timedelta(days=3))
        config = load_config(session, org_id)
        found["adoption"] = adoption_weeks(session, org_id, MONDAYS, roster, config)
        # The overview's read: teams of the last week only, the organization of every week the same.
        alone = adoption_weeks(session, org_id, MONDAYS, roster, config, teams_in=MONDAYS[-1:])
        assert [week.organization for week in alone] == [week.organization for week in found["adoption"]]
        assert alone[-1].teams == found["adoption"][-1].teams
        for team_id in roster.team_sizes:
            one = adoption_weeks(session, org_id, MONDAYS, roster, config, team_id=team_id)
            assert [week.teams for week in one] == [
                {team_id: week.teams[team_id]} for week in found["adoption"]
            ]
            found[f"adoption team {team_id}"] = one
        found["person"] = person_week_history(session, person.id, MONDAYS)
    return found


def _forget_summaries(world: World) -> None:
    with world.context.db.session() as session:
        session.execute(delete(ClaritySummaryDay))


def test_tables_give_the_rollups_numbers(world: World, org_id: int) -> None:
    people = _seed(world)
    from_rollups = _numbers(world, org_id, people[0])
    assert from_rollups["usage None False"][0].requests > 100
    assert from_rollups["adoption"][1].organization.active > 0
    assert from_rollups["agent outcomes"].total_tokens > 0
    every_agent = [row for row in from_rollups["usage agent True"] if row.key == 4]
    assert from_rollups["agent daily"] == every_agent != []

    with world.context.db.session() as session:
        done = refresh(session)
        assert done.days >= 10
        assert done.weeks == 2
        assert session.scalar(select(ClarityUsageDay.id).limit(1)) is not None
        assert session.scalar(select(ClarityPersonWeek.user_id).limit(1)) is not None
        assert stale_days(session, WINDOW.start, WINDOW.end) == []
    assert _numbers(world, org_id, people[0]) == from_rollups

    # A later write makes its day stale: read from its rollups, the rest from the tables.
    world.call(people[4], datetime(WEEK.year, WEEK.month, WEEK.day, 15, tzinfo=UTC) + timedelta(days=2))
    world.outcome(people[4], datetime(WEEK.year, WEEK.month, WEEK.day, 15, tzinfo=UTC), "commit.created")
    world.flush()
    with world.context.db.session() as session:
        assert len(stale_days(session, WINDOW.start, WINDOW.end)) == 2
    mixed = _numbers(world, org_id, people[4])
    _forget_summaries(world)
    assert mixed == _numbers(world, org_id, people[4])
    assert mixed != from_rollups


def test_refresh_catches_up_after_writes(world: World, org_id: int) -> None:
    people = _seed(world)
    with world.context.db.session() as session:
        refresh(session)
    world.call(people[1], datetime(WEEK.year, WEEK.month, WEEK.day, 9, tzinfo=UTC))
    world.flush()
    with world.context.db.session() as session:
        again = refresh(session)
        assert (again.days, again.weeks) == (1, 1)
        assert stale_days(session, WINDOW.start, WINDOW.end) == []
        assert refresh(session).days == 0
    summed = _numbers(world, org_id, people[1])
    _forget_summaries(world)
    assert summed == _numbers(world, org_id, people[1])


def test_a_week_without_rollups_reads_as_empty(world: World, org_id: int) -> None:
    with world.context.db.session() as session:
        history = person_week_history(session, 1, [date(2026, 1, 5)])
    assert history[0][1].human_days == 0


def test_upkeep_sums_stale_days(world: World, org_id: int) -> None:
    _seed(world)
    upkeep = Upkeep(world.context.db)
    assert upkeep.run_once() >= 10
    assert upkeep.run_once() == 0
    with world.context.db.session() as session:
        assert stale_days(session, WINDOW.start, WINDOW.end) == []


def _week_tables_used(world: World, org_id: int) -> None:
    """The fast paths are really taken: usage weeks written, adoption stamped for this roster."""
    with world.context.db.session() as session:
        assert set(session.scalars(select(ClaritySummaryWeek.week_start))) >= set(MONDAYS)
        assert session.scalar(select(ClarityUsageWeek.id).limit(1)) is not None
        assert (
            session.scalar(select(ClarityOutcomeWeek.id).where(ClarityOutcomeWeek.dimension == "team"))
            is not None
        )
        stamped = set(
            session.scalars(
                select(ClarityAdoptionWeek.week_start).where(ClarityAdoptionWeek.org_id == org_id)
            )
        )
        assert stamped >= set(MONDAYS)
        assert session.scalar(select(ClarityTeamWeek.team_id).limit(1)) is not None
        assert load_roster(session, org_id).key == session.scalar(
            select(ClarityAdoptionWeek.roster_key).where(ClarityAdoptionWeek.org_id == org_id).limit(1)
        )


def test_week_tables_follow_the_roster_and_the_active_rule(world: World, org_id: int) -> None:
    people = _seed(world)
    with world.context.db.session() as session:
        refresh(session)
    _week_tables_used(world, org_id)
    summed = _numbers(world, org_id, people[2])
    _forget_summaries(world)
    assert summed == _numbers(world, org_id, people[2])
    with world.context.db.session() as session:
        refresh(session)

    # Someone moves team and someone leaves: the stamps name the old roster, so readers count the weeks
    # themselves until the refresh counts them again.
    mover, leaver = people[1], people[2]
    with world.context.db.session() as session:
        session.execute(update(User).where(User.id == mover.id).values(team_id=None))
        session.execute(update(User).where(User.id == leaver.id).values(active=False))
    moved = _numbers(world, org_id, people[3])
    assert moved["adoption"] != summed["adoption"]
    with world.context.db.session() as session:
        again = refresh(session)
        assert (again.days, again.team_weeks) == (0, 2)
    _week_tables_used(world, org_id)
    assert _numbers(world, org_id, people[3]) == moved

    # Another active rule (one day of use is enough): the same, for the rule.
    with world.context.db.session() as session:
        save_config(session, org_id, ClarityConfig(active_min_days=1, active_min_accepted=0), by_user_id=None,
                    now=world.context.clock.now())  # fmt: skip
    looser = _numbers(world, org_id, people[3])
    assert looser["adoption"] != moved["adoption"]
    with world.context.db.session() as session:
        assert refresh(session).team_weeks == 2
        assert refresh(session).team_weeks == 0
    _week_tables_used(world, org_id)
    assert _numbers(world, org_id, people[3]) == looser
    _forget_summaries(world)
    assert _numbers(world, org_id, people[3]) == looser


def test_weeks_summed_before_the_week_tables_are_filled_in(world: World, org_id: int) -> None:
    people = _seed(world)
    with world.context.db.session() as session:
        refresh(session)
    from_tables = _numbers(world, org_id, people[0])
    with world.context.db.session() as session:  # as a database summed before migrations 0018 and 0019
        for table in (
            ClarityUsageWeek,
            ClarityOutcomeWeek,
            ClaritySummaryWeek,
            ClarityTeamWeek,
            ClarityAdoptionWeek,
        ):
            session.execute(delete(table))
    assert _numbers(world, org_id, people[0]) == from_tables
    upkeep = Upkeep(world.context.db)
    assert upkeep.run_once() == 0
    _week_tables_used(world, org_id)
    assert _numbers(world, org_id, people[0]) == from_tables
