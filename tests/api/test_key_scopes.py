"""API key scopes narrow what the owner's role allows: a read-only key reads, a write-only key writes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from tests.api.db_state import identity_state
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS


@BOTH_BACKENDS
def test_a_read_only_key_reads_and_cannot_change_anything(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN, scopes=["api:read"])
    team = people.team("Platform")
    for path in ("/api/v1/me", "/api/v1/users", "/api/v1/teams", f"/api/v1/teams/{team}", "/api/v1/keys"):
        assert client.get(path, headers=admin.auth).status_code == 200, path
    before = identity_state(people.context)
    writes = [
        ("POST", "/api/v1/teams", {"name": "New"}),
        ("PATCH", f"/api/v1/teams/{team}", {"name": "Renamed"}),
        ("DELETE", f"/api/v1/teams/{team}", None),
        ("POST", "/api/v1/users", {"email": "new@example.org"}),
        ("PATCH", f"/api/v1/users/{admin.id}", {"name": "Renamed"}),
        ("POST", "/api/v1/keys", {"name": "more power"}),
        ("DELETE", "/api/v1/keys/1", None),
    ]
    for method, path, body in writes:
        answer = client.request(method, path, json=body, headers=admin.auth)
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.json()["error"]["code"] == "forbidden"
    assert identity_state(people.context) == before


@BOTH_BACKENDS
def test_a_write_only_key_writes_but_does_not_read(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN, scopes=["api:write"])
    assert client.post("/api/v1/teams", json={"name": "New"}, headers=admin.auth).status_code == 201
    assert client.get("/api/v1/users", headers=admin.auth).status_code == 403


def test_me_reports_the_scopes_of_the_key_used(client: TestClient, people: People) -> None:
    person = people.add(Role.MEMBER, scopes=["api:read", "gateway"])
    me = client.get("/api/v1/me", headers=person.auth).json()
    assert me["id"] == person.id
    assert me["key_scopes"] == ["api:read", "gateway"]


@BOTH_BACKENDS
def test_a_key_cannot_create_a_key_with_more_power_than_itself(client: TestClient, people: People) -> None:
    person = people.add(Role.MEMBER, scopes=["api:read", "api:write"])
    before = identity_state(people.context)
    refused = client.post("/api/v1/keys", json={"name": "sneaky", "scopes": ["gateway"]}, headers=person.auth)
    assert refused.status_code == 403
    assert "gateway" in refused.json()["error"]["message"]
    assert identity_state(people.context) == before
    inherited = client.post("/api/v1/keys", json={"name": "same"}, headers=person.auth)
    assert inherited.status_code == 201
    assert inherited.json()["scopes"] == ["api:read", "api:write"]
    narrower = client.post("/api/v1/keys", json={"name": "ro", "scopes": ["api:read"]}, headers=person.auth)
    assert narrower.json()["scopes"] == ["api:read"]
