"""Adoption: the active rule's edges, cohorts, human use kept apart from automation, and the goal."""

from __future__ import annotations

from datetime import timedelta

from meshclaw.clarity.adoption import PersonWeek, adoption_week, cohort_of, is_active, person_weeks
from meshclaw.clarity.config import ClarityConfig
from meshclaw.clarity.people import load_roster
from tests.clarity.cast import monday
from tests.clarity.conftest import WEEK, World
from tests.conftest import Person

DEFAULT = ClarityConfig()


def use_on_days(world: World, person: Person, days: int, **call: object) -> None:
    for day in range(days):
        world.call(person, monday(WEEK) + timedelta(days=day, hours=10), **call)  # type: ignore[arg-type]


def test_active_rule_edges_and_cohorts(world: World, org_id: int) -> None:
    one_day = world.person("one-day@example.org")
    two_days = world.person("two-days@example.org")
    three_days = world.person("three-days@example.org")
    four_days = world.person("four-days@example.org")
    one_day_accepted = world.person("one-day-accepted@example.org")
    accepted_only = world.person("accepted-only@example.org")
    rejected_only = world.person("rejected-only@example.org")
    automation_only = world.person("automation-only@example.org")
    sunday_monday = world.person("sunday-monday@example.org")
    nothing = world.person("nothing@example.org")
    use_on_days(world, one_day, 1)
    use_on_days(world, two_days, 2)
    use_on_days(world, three_days, 3)
    use_on_days(world, four_days, 4)
    use_on_days(world, one_day_accepted, 1)
    world.outcome(one_day_accepted, monday(WEEK) + timedelta(hours=11), "code_edit.decided", accepted=True)
    world.outcome(accepted_only, monday(WEEK) + timedelta(hours=11), "code_edit.decided", accepted=True)
    world.outcome(rejected_only, monday(WEEK) + timedelta(hours=11), "code_edit.decided", accepted=False)
    use_on_days(world, automation_only, 7, initiator="automation")
    # Sunday of the week before and Monday of this one: one day in each week, never two in one.
    world.call(sunday_monday, monday(WEEK) - timedelta(hours=2))
    world.call(sunday_monday, monday(WEEK) + timedelta(hours=2))
    # Many calls on one day are still one day.
    for minute in range(30):
        world.call(one_day, monday(WEEK) + timedelta(hours=12, minutes=minute))
    world.flush()
    with world.context.db.session() as session:
        weeks = person_weeks(session, WEEK)
        roster = load_roster(session, org_id)
        week = adoption_week(session, WEEK, roster, DEFAULT)

    def check(person: Person) -> tuple[bool, str]:
        found = weeks.get(person.id, PersonWeek())
        return is_active(found, DEFAULT), cohort_of(found)

    assert check(one_day) == (False, "light")
    assert check(two_days) == (True, "moderate")
    assert check(three_days) == (True, "moderate")
    assert check(four_days) == (True, "heavy")
    assert check(one_day_accepted) == (True, "light")
    assert check(accepted_only) == (True, "light")
    assert check(rejected_only) == (False, "none")
    assert check(automation_only) == (False, "none")
    assert check(sunday_monday) == (False, "light")
    assert check(nothing) == (False, "none")
    assert weeks[automation_only.id].automation_requests == 7
    assert weeks[automation_only.id].human_requests == 0
    org = week.organization
    assert (org.people, org.active) == (10, 5)
    assert org.rate == 0.5
    assert org.cohorts == {"none": 3, "light": 4, "moderate": 2, "heavy": 1}
    assert org.automation_people == 1
    assert org.automation_tokens == 7 * 2500
    assert week.teams[world.team].people == 10


def test_the_rule_is_configurable(world: World) -> None:
    one_day = world.person("one-day@example.org")
    accepted_only = world.person("accepted-only@example.org")
    use_on_days(world, one_day, 1)
    world.outcome(accepted_only, monday(WEEK) + timedelta(hours=11), "code_edit.decided", accepted=True)
    world.flush()
    with world.context.db.session() as session:
        weeks = person_weeks(session, WEEK)
    lenient = ClarityConfig(active_min_days=1, active_min_accepted=0)
    assert is_active(weeks[one_day.id], lenient)
    assert not is_active(weeks[accepted_only.id], lenient)
    strict = ClarityConfig(active_min_days=2, active_min_accepted=2)
    assert not is_active(weeks[accepted_only.id], strict)
