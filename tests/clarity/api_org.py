"""An organization for the Clarity API tests, its data recorded through the app's own recorder.

Teams: Big (six people: a manager, a member, a tokenmaxxer and three more) and Small (two people: a
member and its manager), plus an admin and an auditor without a team. In the week `WEEK` everyone in Big
and Small works like `World.steady`, except the grinder (1.2M effective tokens, one commit).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from meshclaw.identity.principal import Role
from meshclaw.metering.recorder import Recorder
from tests.clarity import cast
from tests.clarity.conftest import World
from tests.conftest import People, Person


@dataclass
class ApiOrg:
    client: TestClient
    world: World
    admin: Person
    auditor: Person
    big_manager: Person
    big_member: Person
    grinder: Person
    small_manager: Person
    small_member: Person
    big: int
    small: int

    def get(self, path: str, person: Person) -> tuple[int, dict]:  # type: ignore[type-arg]
        answer = self.client.get(path, headers=person.auth)
        return answer.status_code, answer.json()


def build(client: TestClient, context: AppContext, people: People) -> ApiOrg:
    recorder = client.app.state.recorder  # type: ignore[attr-defined]
    assert isinstance(recorder, Recorder)
    world = World(context, people, recorder)
    big = people.team("Big")
    small = people.team("Small")
    org = ApiOrg(
        client=client,
        world=world,
        admin=world.person("admin@example.org", role=Role.ADMIN, team_id=None),
        auditor=world.person("auditor@example.org", role=Role.AUDITOR, team_id=None),
        big_manager=world.person("big-manager@example.org", role=Role.MANAGER, team_id=big),
        big_member=world.person("big-member@example.org", team_id=big),
        grinder=world.person("grinder@example.org", team_id=big),
        small_manager=world.person("small-manager@example.org", role=Role.MANAGER, team_id=small),
        small_member=world.person("small-member@example.org", team_id=small),
        big=big,
        small=small,
    )
    others = [world.person(f"big{index}@example.org", team_id=big) for index in range(3)]
    for person in [org.big_manager, org.big_member, *others, org.small_manager, org.small_member]:
        world.steady(person)
    cast._busy(world, org.grinder)
    world.outcome(org.grinder, cast.monday(cast.WEEK))
    world.flush()
    return org
