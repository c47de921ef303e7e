"""/api/v1/keys: the secret is shown once and only its hash is stored; revoked and expired keys are
refused."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text, update

from meshclaw.db.models import ApiKey
from meshclaw.identity.principal import Role
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS


@BOTH_BACKENDS
def test_the_secret_is_shown_once_and_only_its_hash_is_stored(client: TestClient, people: People) -> None:
    person = people.add()
    created = client.post("/api/v1/keys", json={"name": "laptop"}, headers=person.auth)
    assert created.status_code == 201
    body = created.json()
    secret = body["key"]
    assert secret.startswith(f"mc_{body['prefix']}_")
    listed = client.get("/api/v1/keys", headers=person.auth)
    assert secret not in listed.text
    assert all("key" not in item for item in listed.json())
    with people.context.db.session() as session:
        stored = session.get(ApiKey, body["id"])
        assert stored is not None
        assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        # No column of any row holds the secret itself.
        dump = session.execute(text("SELECT * FROM api_keys")).all()
    assert secret not in repr(dump)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


@BOTH_BACKENDS
def test_a_revoked_key_is_401(client: TestClient, people: People) -> None:
    person = people.add()
    created = client.post("/api/v1/keys", json={"name": "temp"}, headers=person.auth).json()
    auth = {"Authorization": f"Bearer {created['key']}"}
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    revoked = client.delete(f"/api/v1/keys/{created['id']}", headers=person.auth)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    answer = client.get("/api/v1/me", headers=auth)
    assert answer.status_code == 401
    assert "revoked" in answer.json()["error"]["message"]
    assert created["key"] not in answer.text
    # The key stays listed, so its history keeps a name.
    assert created["id"] in [k["id"] for k in client.get("/api/v1/keys", headers=person.auth).json()]


@BOTH_BACKENDS
def test_an_expired_key_is_401(client: TestClient, people: People) -> None:
    person = people.add()
    created = client.post("/api/v1/keys", json={"name": "short-lived"}, headers=person.auth).json()
    auth = {"Authorization": f"Bearer {created['key']}"}
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    past = people.context.clock.now() - timedelta(seconds=1)
    with people.context.db.session() as session:
        session.execute(update(ApiKey).where(ApiKey.id == created["id"]).values(expires_at=past))
    assert client.get("/api/v1/me", headers=auth).status_code == 401


def test_a_key_with_a_future_expiry_works_and_one_in_the_past_is_refused(
    client: TestClient, people: People
) -> None:
    person = people.add()
    soon = (people.context.clock.now() + timedelta(days=1)).isoformat()
    created = client.post("/api/v1/keys", json={"name": "a day", "expires_at": soon}, headers=person.auth)
    assert created.status_code == 201
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {created.json()['key']}"}).status_code
        == 200
    )
    gone = (people.context.clock.now() - timedelta(days=1)).isoformat()
    refused = client.post("/api/v1/keys", json={"name": "yesterday", "expires_at": gone}, headers=person.auth)
    assert refused.status_code == 422
    assert refused.json()["error"]["field"] == "expires_at"


def test_an_unknown_scope_is_refused(client: TestClient, people: People) -> None:
    person = people.add()
    answer = client.post("/api/v1/keys", json={"name": "x", "scopes": ["root"]}, headers=person.auth)
    assert answer.status_code == 422
    assert answer.json()["error"]["field"].startswith("scopes")


def test_a_malformed_or_unknown_bearer_is_401_without_echoing_it(client: TestClient, people: People) -> None:
    people.add()
    for value in ("mc_nope", "mc_abcd1234_wrongsecret", "not even close"):
        answer = client.get("/api/v1/me", headers={"Authorization": f"Bearer {value}"})
        assert answer.status_code == 401
        assert value not in answer.text


def test_an_admin_lists_someone_elses_keys_and_revokes_them(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    person = people.add()
    listed = client.get(f"/api/v1/keys?user_id={person.id}", headers=admin.auth).json()
    assert [k["owner_user_id"] for k in listed] == [person.id]
    assert client.delete(f"/api/v1/keys/{listed[0]['id']}", headers=admin.auth).status_code == 200
    assert client.get("/api/v1/me", headers=person.auth).status_code == 401
