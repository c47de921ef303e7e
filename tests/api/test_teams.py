"""/api/v1/teams: the team tree, which must stay a tree."""

from __future__ import annotations

from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from tests.api.db_state import identity_state
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS


@BOTH_BACKENDS
def test_admin_builds_and_reads_a_tree(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    eng = client.post("/api/v1/teams", json={"name": "Engineering"}, headers=admin.auth)
    assert eng.status_code == 201
    platform = client.post(
        "/api/v1/teams", json={"name": "Platform", "parent_id": eng.json()["id"]}, headers=admin.auth
    )
    assert platform.status_code == 201
    assert platform.json()["parent_id"] == eng.json()["id"]
    listed = client.get("/api/v1/teams", headers=admin.auth).json()
    assert [(t["name"], t["parent_id"]) for t in listed] == [
        ("Engineering", None),
        ("Platform", eng.json()["id"]),
    ]
    assert client.get(f"/api/v1/teams/{platform.json()['id']}", headers=admin.auth).json() == platform.json()


@BOTH_BACKENDS
def test_a_cycle_in_the_tree_is_a_conflict(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    top = people.team("Top")
    middle = people.team("Middle", parent_id=top)
    bottom = people.team("Bottom", parent_id=middle)
    before = identity_state(people.context)
    for team, parent in ((top, bottom), (top, middle), (middle, middle)):
        answer = client.patch(f"/api/v1/teams/{team}", json={"parent_id": parent}, headers=admin.auth)
        assert answer.status_code == 409, (team, parent)
        assert answer.json()["error"]["field"] == "parent_id"
    assert identity_state(people.context) == before
    moved = client.patch(f"/api/v1/teams/{bottom}", json={"parent_id": None}, headers=admin.auth)
    assert moved.status_code == 200
    assert moved.json()["parent_id"] is None


@BOTH_BACKENDS
def test_a_duplicate_team_name_is_a_conflict(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    people.team("Platform")
    other = people.team("Sales")
    created = client.post("/api/v1/teams", json={"name": " Platform "}, headers=admin.auth)
    assert created.status_code == 409
    assert created.json()["error"]["field"] == "name"
    renamed = client.patch(f"/api/v1/teams/{other}", json={"name": "Platform"}, headers=admin.auth)
    assert renamed.status_code == 409


def test_an_unknown_parent_is_404(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    answer = client.post("/api/v1/teams", json={"name": "Orphan", "parent_id": 999}, headers=admin.auth)
    assert answer.status_code == 404


@BOTH_BACKENDS
def test_only_an_empty_team_can_be_deleted(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    parent = people.team("Parent")
    child = people.team("Child", parent_id=parent)
    staffed = people.team("Staffed")
    people.add(team_id=staffed)
    for team in (parent, staffed):
        answer = client.delete(f"/api/v1/teams/{team}", headers=admin.auth)
        assert answer.status_code == 409
    assert client.delete(f"/api/v1/teams/{child}", headers=admin.auth).status_code == 204
    assert client.get(f"/api/v1/teams/{child}", headers=admin.auth).status_code == 404
    assert client.delete(f"/api/v1/teams/{parent}", headers=admin.auth).status_code == 204


def test_an_empty_or_long_name_is_refused(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    for name in ("", "   ", "x" * 201):
        answer = client.post("/api/v1/teams", json={"name": name}, headers=admin.auth)
        assert answer.status_code == 422, name
        assert answer.json()["error"]["field"] == "name"
