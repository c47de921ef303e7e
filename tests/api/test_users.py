"""/api/v1/users and /api/v1/me: creating, listing, reading and changing people, and the rules that
protect the organization (unique emails, no management cycles, never zero admins)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from tests.api.db_state import identity_state
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS


@BOTH_BACKENDS
def test_admin_creates_a_person_and_reads_them_back(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    team = people.team("Platform")
    created = client.post(
        "/api/v1/users",
        json={
            "email": "  Ada@Example.ORG ",
            "name": "Ada Lovelace",
            "role": "manager",
            "team_id": team,
            "manager_id": admin.id,
        },
        headers=admin.auth,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "ada@example.org"
    assert (body["name"], body["role"], body["team_id"], body["manager_id"], body["active"]) == (
        "Ada Lovelace",
        "manager",
        team,
        admin.id,
        True,
    )
    assert "password" not in body and "password_hash" not in body
    read = client.get(f"/api/v1/users/{body['id']}", headers=admin.auth)
    assert read.status_code == 200
    assert read.json() == body


def test_me_is_the_caller(client: TestClient, people: People) -> None:
    person = people.add(Role.AUDITOR, email="audit@example.org")
    me = client.get("/api/v1/me", headers=person.auth)
    assert me.status_code == 200
    assert (me.json()["id"], me.json()["email"], me.json()["role"]) == (
        person.id,
        "audit@example.org",
        "auditor",
    )


@BOTH_BACKENDS
def test_listing_pages_through_people_in_id_order(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    others = [people.add(Role.MEMBER) for _ in range(6)]
    all_ids = [admin.id, *(p.id for p in others)]
    first = client.get("/api/v1/users?limit=3", headers=admin.auth).json()
    assert (first["total"], first["limit"], first["offset"]) == (7, 3, 0)
    assert [u["id"] for u in first["items"]] == all_ids[:3]
    second = client.get("/api/v1/users?limit=3&offset=3", headers=admin.auth).json()
    assert [u["id"] for u in second["items"]] == all_ids[3:6]
    last = client.get("/api/v1/users?limit=3&offset=6", headers=admin.auth).json()
    assert [u["id"] for u in last["items"]] == all_ids[6:]
    beyond = client.get("/api/v1/users?limit=3&offset=60", headers=admin.auth).json()
    assert (beyond["items"], beyond["total"]) == ([], 7)


def test_listing_refuses_silly_page_sizes(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    for query in ("limit=0", "limit=1001", "offset=-1", "limit=ten"):
        answer = client.get(f"/api/v1/users?{query}", headers=admin.auth)
        assert answer.status_code == 422, query
        assert answer.json()["error"]["field"] in ("limit", "offset")


@BOTH_BACKENDS
def test_listing_filters_by_team(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    platform, sales = people.team("Platform"), people.team("Sales")
    in_platform = {people.add(team_id=platform).id for _ in range(3)}
    people.add(team_id=sales)
    page = client.get(f"/api/v1/users?team_id={platform}", headers=admin.auth).json()
    assert {u["id"] for u in page["items"]} == in_platform
    assert page["total"] == 3


@BOTH_BACKENDS
def test_a_duplicate_email_is_a_conflict_naming_the_field(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    people.add(email="ada@example.org")
    before = identity_state(people.context)
    answer = client.post("/api/v1/users", json={"email": "ADA@example.org"}, headers=admin.auth)
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert (error["code"], error["field"]) == ("conflict", "email")
    assert "ada@example.org" in error["message"]
    assert identity_state(people.context) == before


def test_a_bad_email_or_short_password_is_refused_with_the_field(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    bad_email = client.post("/api/v1/users", json={"email": "not-an-email"}, headers=admin.auth)
    assert bad_email.status_code == 422
    assert bad_email.json()["error"]["field"] == "email"
    short = client.post(
        "/api/v1/users", json={"email": "x@example.org", "password": "short"}, headers=admin.auth
    )
    assert short.status_code == 422
    assert short.json()["error"]["field"] == "password"
    bad_role = client.post(
        "/api/v1/users", json={"email": "x@example.org", "role": "overlord"}, headers=admin.auth
    )
    assert bad_role.status_code == 422
    assert bad_role.json()["error"]["field"] == "role"


@BOTH_BACKENDS
def test_a_management_cycle_is_a_conflict(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    boss = people.add(Role.MANAGER)
    middle = people.add(Role.MANAGER, manager_id=boss.id)
    worker = people.add(Role.MEMBER, manager_id=middle.id)
    before = identity_state(people.context)
    for user, manager in ((boss, worker), (boss, middle), (worker, worker)):
        answer = client.patch(f"/api/v1/users/{user.id}", json={"manager_id": manager.id}, headers=admin.auth)
        assert answer.status_code == 409, (user.email, manager.email)
        assert answer.json()["error"]["field"] == "manager_id"
    assert identity_state(people.context) == before
    fine = client.patch(f"/api/v1/users/{worker.id}", json={"manager_id": boss.id}, headers=admin.auth)
    assert fine.status_code == 200
    assert fine.json()["manager_id"] == boss.id


@BOTH_BACKENDS
def test_the_last_admin_cannot_be_demoted_or_deactivated(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    before = identity_state(people.context)
    for change in ({"role": "member"}, {"active": False}, {"role": "auditor", "active": False}):
        answer = client.patch(f"/api/v1/users/{admin.id}", json=change, headers=admin.auth)
        assert answer.status_code == 409, change
        assert answer.json()["error"]["code"] == "conflict"
    assert identity_state(people.context) == before
    second = people.add(Role.ADMIN)
    demoted = client.patch(f"/api/v1/users/{admin.id}", json={"role": "member"}, headers=second.auth)
    assert demoted.status_code == 200
    assert demoted.json()["role"] == "member"
    assert (
        client.patch(f"/api/v1/users/{second.id}", json={"role": "member"}, headers=second.auth).status_code
        == 409
    )


def test_a_deactivated_persons_keys_stop_working(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    person = people.add()
    assert (
        client.patch(f"/api/v1/users/{person.id}", json={"active": False}, headers=admin.auth).status_code
        == 200
    )
    answer = client.get("/api/v1/me", headers=person.auth)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthenticated"


def test_a_person_changes_their_own_name_and_password_but_not_their_role(
    client: TestClient, people: People
) -> None:
    person = people.add()
    renamed = client.patch(
        f"/api/v1/users/{person.id}",
        json={"name": "New Name", "password": "a long enough password"},
        headers=person.auth,
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "New Name"
    promoted = client.patch(f"/api/v1/users/{person.id}", json={"role": "admin"}, headers=person.auth)
    assert promoted.status_code == 403
    assert client.get("/api/v1/me", headers=person.auth).json()["role"] == "member"


def test_malformed_json_is_422_with_a_message(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    answer = client.post(
        "/api/v1/users",
        content=b'{"email": "a@example.org",',
        headers={**admin.auth, "content-type": "application/json"},
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_input"
    assert "json" in error["message"].lower()


def test_unknown_fields_are_refused_by_name(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    before = identity_state(people.context)
    answer = client.post(
        "/api/v1/users", json={"email": "a@example.org", "is_superuser": True}, headers=admin.auth
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "is_superuser"
    patch = client.patch(f"/api/v1/users/{admin.id}", json={"email": "b@example.org"}, headers=admin.auth)
    assert patch.status_code == 422
    assert patch.json()["error"]["field"] == "email"
    assert identity_state(people.context) == before


def test_an_unknown_user_is_404(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    answer = client.get("/api/v1/users/9999", headers=admin.auth)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


@BOTH_BACKENDS
def test_control_characters_are_422_on_both_backends(client: TestClient, people: People) -> None:
    """PostgreSQL cannot store NUL in text: without the check this was a 500 there and a 201 on SQLite."""
    admin = people.add(Role.ADMIN)
    before = identity_state(people.context)
    for body in ({"email": "a@example.org", "name": "A\u0000B"}, {"email": "a\u0000@example.org"}):
        answer = client.post("/api/v1/users", json=body, headers=admin.auth)
        assert answer.status_code == 422, answer.text
    team = client.post("/api/v1/teams", json={"name": "Line\nbreak"}, headers=admin.auth)
    assert team.status_code == 422
    assert identity_state(people.context) == before
