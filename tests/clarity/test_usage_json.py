"""`GET /api/v1/clarity/usage` and `/adoption` write their documents straight from the rows (`usage_json`,
`adoption_json`): each must be the very document its model gives (`usage_out`, `adoption_out`), byte for
byte, for every grouping, the organization, one team and one person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from meshclaw.api.clarity_shapes import adoption_json, adoption_out, usage_json, usage_out
from meshclaw.clarity import views
from meshclaw.clarity.costs import GROUP_BYS
from tests.clarity.conftest import WEEK, World


def test_usage_json_is_the_models_document(world: World, org_id: int) -> None:
    people = [world.person(f"p{index}@example.org") for index in range(5)]
    start = datetime(WEEK.year, WEEK.month, WEEK.day, 9, tzinfo=UTC)
    for index, person in enumerate(people):
        for call in range(3 + index):
            world.call(person, start + timedelta(days=call, minutes=index), output_tokens=7 * call + index)
    world.call(None, start, agent_id=4, initiator="automation", input_tokens=1)
    world.flush()
    since, until = WEEK.isoformat(), (WEEK + timedelta(days=7)).isoformat()
    with world.context.db.session() as session:
        for group_by in (None, *GROUP_BYS):
            for daily in (False, True):
                view = views.usage(session, org_id, None, since=since, until=until, group_by=group_by,
                                   daily=daily, user=None, team=None, today=WEEK)  # fmt: skip
                assert view.rows
                assert usage_json(view) == usage_out(view).model_dump_json().encode(), (group_by, daily)
        empty = views.usage(session, org_id, None, since="2026-01-05", until="2026-01-06", group_by="user",
                            daily=False, user=None, team=None, today=WEEK)  # fmt: skip
        assert usage_json(empty) == usage_out(empty).model_dump_json().encode()

        for team, user in ((None, None), (str(world.team), None), (None, people[1].email)):
            adoption = views.adoption(session, org_id, None, since=since, until=until, team=team, user=user,
                                      today=WEEK)  # fmt: skip
            one_team = team is not None
            expected = adoption_out(adoption, one_team=one_team).model_dump_json().encode()
            assert adoption_json(adoption, one_team=one_team) == expected, (team, user)
