"""/api/v1/providers: admins configure upstreams, auditors read them, the running routing table follows at
once, bad input is a 422 naming the field, and no key value ever appears in an answer."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from meshclaw.identity.principal import Role
from meshclaw.providers.live import LiveRoutes
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS

SECRET = "sk-test-NEVER-SHOWN-4242"
LOCAL = {
    "name": "local",
    "kind": "openai-compatible",
    "base_url": "http://127.0.0.1:11434/v1/",
    "api_key_env": "MESHCLAW_TEST_LOCAL_KEY",
    "models": ["llama-3", "qwen"],
}


@pytest.fixture
def live_routes(client: TestClient, context: AppContext) -> LiveRoutes:
    """The routing table the gateway installs, with a refresh interval long enough that only an
    explicit reload can make a change visible within a test."""
    routes = LiveRoutes(context.db, refresh_s=3600)
    client.app.state.provider_routes = routes  # type: ignore[attr-defined]
    routes.reload()
    return routes


@BOTH_BACKENDS
def test_admin_adds_changes_and_removes_a_provider(
    client: TestClient, people: People, live_routes: LiveRoutes, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = people.add(Role.ADMIN)
    created = client.post("/api/v1/providers", json=LOCAL, headers=admin.auth)
    assert created.status_code == 201, created.text
    assert created.json() == {
        "name": "local",
        "kind": "openai-compatible",
        "base_url": "http://127.0.0.1:11434/v1",
        "api_key_env": "MESHCLAW_TEST_LOCAL_KEY",
        "api_key_set": False,
        "models": ["llama-3", "qwen"],
        "enabled": True,
    }
    provider = live_routes.current().provider_for("qwen")
    assert provider is not None and provider.name == "local"

    monkeypatch.setenv("MESHCLAW_TEST_LOCAL_KEY", SECRET)
    listed = client.get("/api/v1/providers", headers=admin.auth)
    assert [p["api_key_set"] for p in listed.json()] == [True]
    assert SECRET not in listed.text

    changed = client.patch(
        "/api/v1/providers/local",
        json={"enabled": False, "models": ["llama-3.1"], "base_url": "http://10.0.0.5:8000/v1"},
        headers=admin.auth,
    )
    assert changed.status_code == 200, changed.text
    assert {k: changed.json()[k] for k in ("enabled", "models", "base_url")} == {
        "enabled": False,
        "models": ["llama-3.1"],
        "base_url": "http://10.0.0.5:8000/v1",
    }
    assert live_routes.current().provider_for("qwen") is None
    assert live_routes.current().provider_for("llama-3.1") is None  # disabled

    enabled = client.patch("/api/v1/providers/local", json={"enabled": True}, headers=admin.auth)
    assert enabled.json()["enabled"] is True
    assert live_routes.current().provider_for("llama-3.1") is not None
    cleared = client.patch("/api/v1/providers/local", json={"api_key_env": None}, headers=admin.auth)
    assert (cleared.json()["api_key_env"], cleared.json()["api_key_set"]) == (None, False)

    assert client.delete("/api/v1/providers/local", headers=admin.auth).status_code == 204
    assert client.get("/api/v1/providers", headers=admin.auth).json() == []
    assert live_routes.current().provider_for("llama-3.1") is None
    gone = client.delete("/api/v1/providers/local", headers=admin.auth)
    assert gone.status_code == 404
    assert "providers list" in gone.json()["error"]["message"]


@BOTH_BACKENDS
def test_a_model_already_routed_elsewhere_is_a_conflict(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    assert client.post("/api/v1/providers", json=LOCAL, headers=admin.auth).status_code == 201
    again = client.post("/api/v1/providers", json=LOCAL, headers=admin.auth)
    assert again.status_code == 409
    other = {**LOCAL, "name": "other", "models": ["qwen"]}
    taken = client.post("/api/v1/providers", json=other, headers=admin.auth)
    assert taken.status_code == 409
    assert taken.json()["error"]["field"] == "models"
    assert "already served by provider 'local'" in taken.json()["error"]["message"]


@pytest.mark.parametrize(
    ("change", "field", "hint"),
    [
        ({"kind": "gemini"}, "kind", "openai, anthropic, openai-compatible"),
        ({"name": "Local Models"}, "name", "lower-case"),
        ({"base_url": "localhost:11434"}, "base_url", "absolute http"),
        ({"base_url": f"https://me:{SECRET}@api.example.com"}, "base_url", "--api-key-env"),
        ({"api_key_env": SECRET}, "api_key_env", "never the key itself"),
        (
            {"api_key_env": "gsk_" + "aB3dE5gH7jK9mN1pQ3rS5tU7vW9xY1zA3bC5dE7f"},
            "api_key_env",
            "looks like a key",
        ),
        ({"models": []}, "models", "at least one model"),
        ({"models": ["gpt 4"]}, "models", "without spaces"),
        ({"api_key": SECRET}, "api_key", "api_key"),  # keys are never accepted, only a variable's name
        ({"name": None}, "name", "name"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    client: TestClient, people: People, change: dict[str, Any], field: str, hint: str
) -> None:
    admin = people.add(Role.ADMIN)
    answer = client.post("/api/v1/providers", json={**LOCAL, **change}, headers=admin.auth)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == field
    assert hint in error["message"]
    assert SECRET not in answer.text
    assert client.get("/api/v1/providers", headers=admin.auth).json() == []


def test_a_bad_patch_changes_nothing(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    client.post("/api/v1/providers", json=LOCAL, headers=admin.auth)
    bad = client.patch(
        "/api/v1/providers/local", json={"enabled": False, "models": ["ok", "ok"]}, headers=admin.auth
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "models"
    unknown = client.patch("/api/v1/providers/nope", json={"enabled": False}, headers=admin.auth)
    assert unknown.status_code == 404
    [provider] = client.get("/api/v1/providers", headers=admin.auth).json()
    assert (provider["enabled"], provider["models"]) == (True, ["llama-3", "qwen"])


@BOTH_BACKENDS
def test_who_may_read_and_change_providers(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    client.post("/api/v1/providers", json=LOCAL, headers=admin.auth)
    for role in (Role.MEMBER, Role.MANAGER):
        person = people.add(role)
        assert client.get("/api/v1/providers", headers=person.auth).status_code == 403
        assert client.get("/api/v1/providers/local", headers=person.auth).status_code == 403
    auditor = people.add(Role.AUDITOR)
    assert client.get("/api/v1/providers/local", headers=auditor.auth).json()["name"] == "local"
    refused = client.patch("/api/v1/providers/local", json={"enabled": False}, headers=auditor.auth)
    assert refused.status_code == 403
    read_only_admin = people.add(Role.ADMIN, scopes=["api:read"])
    assert client.get("/api/v1/providers", headers=read_only_admin.auth).status_code == 200
    assert client.delete("/api/v1/providers/local", headers=read_only_admin.auth).status_code == 403
    assert client.get("/api/v1/providers", headers=admin.auth).json()[0]["enabled"] is True
