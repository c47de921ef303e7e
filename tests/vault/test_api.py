"""/api/v1/vault/secrets: owners and admins; values go in and never come out."""

from __future__ import annotations

from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from tests.conftest import People

VALUE = "slack-xoxb-value-7731-never-returned"


def test_values_go_in_and_never_come_out(client: TestClient, people: People) -> None:
    member, admin = people.add(), people.add(Role.ADMIN)
    created = client.post(
        "/api/v1/vault/secrets",
        json={"name": "slack", "value": VALUE, "purpose": "slack"},
        headers=member.auth,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["owner"] == f"user:{member.id}" and body["version"] == 1 and "value" not in body
    replaced = client.post(
        "/api/v1/vault/secrets", json={"name": "slack", "value": VALUE + "2"}, headers=member.auth
    )
    assert replaced.json()["version"] == 2
    listing = client.get("/api/v1/vault/secrets", headers=member.auth)
    assert [s["name"] for s in listing.json()] == ["slack"]
    audit = client.get("/api/v1/audit", headers=admin.auth)
    assert [e["kind"] for e in audit.json()["events"]] == [
        "admin.vault_secret_rotated",
        "admin.vault_secret_created",
    ]
    for answer in (
        created,
        replaced,
        listing,
        audit,
        client.get("/api/v1/vault/secrets", headers=admin.auth),
    ):
        assert VALUE not in answer.text
    bad = client.post(
        "/api/v1/vault/secrets", json={"name": "bad name!", "value": VALUE}, headers=member.auth
    )
    assert bad.status_code == 422 and VALUE not in bad.text


def test_only_owners_and_admins(client: TestClient, people: People) -> None:
    alice, bob, auditor, admin = people.add(), people.add(), people.add(Role.AUDITOR), people.add(Role.ADMIN)
    secret = client.post(
        "/api/v1/vault/secrets", json={"name": "mail", "value": VALUE}, headers=alice.auth
    ).json()
    assert client.get("/api/v1/vault/secrets", headers=bob.auth).json() == []
    assert client.get("/api/v1/vault/secrets", headers=auditor.auth).json() == []
    assert client.delete(f"/api/v1/vault/secrets/{secret['id']}", headers=bob.auth).status_code == 404
    for body in (
        {"name": "x", "value": VALUE, "org": True},
        {"name": "x", "value": VALUE, "owner_user_id": alice.id},
    ):
        assert client.post("/api/v1/vault/secrets", json=body, headers=bob.auth).status_code == 403
    org = client.post(
        "/api/v1/vault/secrets", json={"name": "org-smtp", "value": VALUE, "org": True}, headers=admin.auth
    )
    assert org.status_code == 201 and org.json()["owner"] == "org"
    assert {s["name"] for s in client.get("/api/v1/vault/secrets", headers=admin.auth).json()} == {
        "mail",
        "org-smtp",
    }
    assert client.delete(f"/api/v1/vault/secrets/{secret['id']}", headers=admin.auth).status_code == 204
    assert client.delete(f"/api/v1/vault/secrets/{org.json()['id']}", headers=alice.auth).status_code == 404
    unknown = client.post(
        "/api/v1/vault/secrets", json={"name": "x", "value": VALUE, "owner_user_id": 999}, headers=admin.auth
    )
    assert unknown.status_code == 404
