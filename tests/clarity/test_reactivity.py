"""Team level: tokens that rise without outcomes after a target is introduced are flagged; tokens that
rise with outcomes, or with the whole organization, are not."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from meshclaw.clarity.reactivity import team_reactivity
from meshclaw.clarity.settings_store import save_team_settings
from tests.clarity.cast import monday
from tests.clarity.conftest import World

INTRODUCED = datetime(2026, 10, 28, 12, tzinfo=UTC)
"""A Wednesday: the week of 26 October is left out; before = 28 Sep to 26 Oct, after = 2 to 30 Nov."""
NOW = datetime(2026, 11, 30, 9, tzinfo=UTC)


def weekly(
    world: World, person_email: str, team_id: int, *, calls: tuple[int, int], commits: tuple[int, int]
) -> None:
    person = world.person(person_email, team_id=team_id)
    for week_index in range(-5, 5):
        week = date(2026, 11, 2) + timedelta(weeks=week_index)
        after = week_index >= 0
        for index in range(calls[after]):
            world.call(person, monday(week) + timedelta(hours=10, minutes=7 * index))
        for _ in range(commits[after]):
            world.outcome(person, monday(week) + timedelta(hours=11))


def test_tokens_without_outcomes_after_a_target_are_flagged(world: World) -> None:
    target = world.people.team("Target")
    honest = world.people.team("Honest")
    control = world.people.team("Control")
    weekly(world, "gamer@example.org", target, calls=(10, 30), commits=(4, 4))
    weekly(world, "grower@example.org", honest, calls=(10, 30), commits=(4, 12))
    weekly(world, "calm@example.org", control, calls=(10, 10), commits=(4, 4))
    world.flush()
    with world.context.db.session() as session:
        for team_id in (target, honest):
            save_team_settings(
                session,
                team_id,
                leaderboard_enabled=None,
                target_introduced_at=INTRODUCED,
                by_user_id=None,
                now=NOW,
            )
    with world.context.db.session() as session:
        answers = {answer.team_id: answer for answer in team_reactivity(session, now=NOW)}
    assert set(answers) == {target, honest}
    gamed = answers[target]
    assert gamed.before.since == date(2026, 9, 28) and gamed.after is not None
    assert gamed.after.since == date(2026, 11, 2) and gamed.after.until == date(2026, 11, 30)
    assert (gamed.token_ratio, gamed.value_ratio) == (3.0, 1.0)
    assert (gamed.control_token_ratio, gamed.control_value_ratio) == (1.0, 1.0)
    assert gamed.flagged and gamed.explanation.startswith("tokens rose without outcomes")
    assert answers[honest].value_ratio == 3.0 and not answers[honest].flagged


def test_no_verdict_before_a_whole_week_has_passed(world: World) -> None:
    team = world.people.team("Fresh")
    weekly(world, "new@example.org", team, calls=(10, 10), commits=(1, 1))
    world.flush()
    with world.context.db.session() as session:
        save_team_settings(
            session, team, leaderboard_enabled=True, target_introduced_at=None, by_user_id=None, now=NOW
        )
        (answer,) = team_reactivity(session, now=NOW + timedelta(days=3))
    assert answer.after is None and not answer.flagged
