"""Changes to model providers and to the price table leave one audit record each, from the API, the web
pages and the CLI: who did it, what changed, never a key; a refused change leaves none, and the chain
still verifies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.audit.store import event_dict
from meshclaw.context import AppContext
from meshclaw.db.models.audit import AuditEvent
from meshclaw.identity.principal import Role
from tests.audit.admin_records import chain_verifies, key_id
from tests.audit.admin_records import records as all_records
from tests.cli_runner import run_cli
from tests.conftest import People
from tests.web.conftest import WebPeople, signed_in

HTMX = {"HX-Request": "true"}
KEY_VAR = "MC_AUDIT_PROVIDER_KEY"
SECRET = "sk-audit-NEVER-RECORDED-4242"
PASTED = "gsk_" + "A1b2C3d4" * 5
"""A Groq-shaped key typed where the variable's name belongs: refused, so never recorded."""
OPENAI = {
    "name": "openai",
    "kind": "openai",
    "base_url": "https://api.openai.com/v1",
    "api_key_env": KEY_VAR,
    "models": ["gpt-4o", "gpt-4o-mini"],
}
ADDED = {
    "kind": "openai",
    "base_url": "https://api.openai.com/v1",
    "models": ["gpt-4o", "gpt-4o-mini"],
    "api_key_env": KEY_VAR,
    "enabled": True,
}

LIFECYCLE = (
    "admin.provider_added",
    "admin.provider_changed",
    "admin.provider_changed",
    "admin.provider_removed",
)
"""Added, changed twice, removed: the records of the provider tests' steps, on the API and the page."""


def records(context: AppContext) -> list[dict[str, Any]]:
    """The provider and price records, oldest first."""
    return all_records(context, "admin.provider_", "admin.price_")


def whole_log(context: AppContext) -> str:
    with context.db.session() as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        return orjson.dumps([event_dict(row) for row in rows]).decode()


def summary(record: dict[str, object]) -> tuple[object, ...]:
    return record["kind"], record["target"], record["invoked_by"], record["on_behalf_of_user_id"]


# --- API --------------------------------------------------------------------------------------------------


def test_api_provider_changes_are_audited_with_what_changed(
    client: TestClient, context: AppContext, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VAR, SECRET)
    admin = people.add(Role.ADMIN)
    by = f"api-key:{key_id(context, admin)}"
    assert client.post("/api/v1/providers", json=OPENAI, headers=admin.auth).status_code == 201
    redirect = {
        "base_url": "https://proxy.example.net/v1",
        "api_key_env": "OTHER_KEY",
        "models": OPENAI["models"],
    }
    assert client.patch("/api/v1/providers/openai", json=redirect, headers=admin.auth).status_code == 200
    # The same values again change nothing, so they record nothing.
    assert client.patch("/api/v1/providers/openai", json=redirect, headers=admin.auth).status_code == 200
    off = {"enabled": False, "api_key_env": None}
    assert client.patch("/api/v1/providers/openai", json=off, headers=admin.auth).status_code == 200
    assert client.delete("/api/v1/providers/openai", headers=admin.auth).status_code == 204

    found = records(context)
    assert [summary(r) for r in found] == [(kind, "provider:openai", by, admin.id) for kind in LIFECYCLE]
    assert found[0]["arguments"] == ADDED
    assert found[1]["arguments"] == {
        "base_url": {"from": "https://api.openai.com/v1", "to": "https://proxy.example.net/v1"},
        "api_key_env": {"from": KEY_VAR, "to": "OTHER_KEY"},
    }
    assert found[2]["arguments"] == {
        "enabled": {"from": True, "to": False},
        "api_key_env": {"from": "OTHER_KEY", "to": None},
    }
    assert SECRET not in whole_log(context)
    assert chain_verifies(context)


def test_api_refused_provider_changes_record_nothing(
    client: TestClient, context: AppContext, people: People
) -> None:
    admin, auditor = people.add(Role.ADMIN), people.add(Role.AUDITOR)
    assert client.post("/api/v1/providers", json=OPENAI, headers=admin.auth).status_code == 201
    other = {**OPENAI, "name": "proxy", "models": ["o3"]}
    assert client.post("/api/v1/providers", json=other, headers=admin.auth).status_code == 201
    assert (
        client.patch("/api/v1/providers/proxy", json={"enabled": False}, headers=admin.auth).status_code
        == 200
    )
    before = records(context)
    by_admin, by_auditor = admin.auth, auditor.auth
    url = "/api/v1/providers"
    refused = [
        client.post(url, json=OPENAI, headers=by_admin),  # the name exists
        client.post(url, json={**OPENAI, "name": "x", "kind": "nope"}, headers=by_admin),
        client.post(url, json={**OPENAI, "name": "y", "api_key_env": PASTED}, headers=by_admin),
        client.post(url, json={**OPENAI, "name": "z"}, headers=by_auditor),
        client.patch(f"{url}/openai", json={"base_url": "https://u:p@evil.example/v1"}, headers=by_admin),
        client.patch(f"{url}/proxy", json={"enabled": True, "models": ["gpt-4o"]}, headers=by_admin),
        client.patch(f"{url}/missing", json={"enabled": False}, headers=by_admin),
        client.delete(f"{url}/missing", headers=by_admin),
        client.delete(f"{url}/openai", headers=by_auditor),
    ]
    assert [answer.status_code for answer in refused] == [409, 422, 422, 403, 422, 409, 404, 404, 403]
    assert records(context) == before
    assert [r["kind"] for r in before] == ["admin.provider_added"] * 2 + ["admin.provider_changed"]
    assert PASTED not in whole_log(context) and "evil.example" not in whole_log(context)
    assert chain_verifies(context)


def test_api_price_set_records_the_prices_and_the_version_it_replaces(
    client: TestClient, context: AppContext, people: People
) -> None:
    admin, member = people.add(Role.ADMIN), people.add()
    by = f"api-key:{key_id(context, admin)}"
    first = {"model": "gpt-4o", "input_uncached": 2.5, "output": 10, "effective_from": "2026-01-01T00:00:00Z"}
    second = {"model": "gpt-4o", "input_uncached": 5, "output": 20, "cache_read": 1.25, "reasoning": 30,
              "effective_from": "2026-03-01T02:00:00+02:00"}  # fmt: skip
    first_id = client.post("/api/v1/prices", json=first, headers=admin.auth).json()["id"]
    second_id = client.post("/api/v1/prices", json=second, headers=admin.auth).json()["id"]
    assert client.post("/api/v1/prices", json={**first, "output": -1}, headers=admin.auth).status_code == 422
    assert client.post("/api/v1/prices", json=first, headers=member.auth).status_code == 403

    found = records(context)
    assert [summary(r) for r in found] == [("admin.price_set", "price:gpt-4o", by, admin.id)] * 2
    assert found[0]["arguments"] == {
        "price_id": first_id,
        "input_uncached": 2.5,
        "cache_read": 2.5,
        "cache_write": 2.5,
        "output": 10.0,
        "reasoning": 10.0,
        "effective_from": "2026-01-01T00:00:00+00:00",
        "replaces_price_id": None,
    }
    assert found[1]["arguments"] == {
        "price_id": second_id,
        "input_uncached": 5.0,
        "cache_read": 1.25,
        "cache_write": 5.0,
        "output": 20.0,
        "reasoning": 30.0,
        "effective_from": "2026-03-01T00:00:00+00:00",
        "replaces_price_id": first_id,
    }
    assert chain_verifies(context)


# --- web pages --------------------------------------------------------------------------------------------


def test_web_provider_forms_are_audited_once_per_change(
    client: TestClient, context: AppContext, web_people: WebPeople, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_VAR, SECRET)
    admin = web_people.add(Role.ADMIN)
    token = signed_in(client, admin)
    form = {**OPENAI, "models": "gpt-4o, gpt-4o-mini", "csrf_token": token}
    assert client.post("/providers", data=form, headers=HTMX).status_code == 200
    for action in ("disable", "disable", "enable"):  # the second disable changes nothing
        assert (
            client.post(f"/providers/openai/{action}", data={"csrf_token": token}, headers=HTMX).status_code
            == 200
        )
    assert (
        client.post("/providers/openai/remove", data={"csrf_token": token}, headers=HTMX).status_code == 200
    )
    by = f"user:{admin.id}"
    found = records(context)
    assert [summary(r) for r in found] == [(kind, "provider:openai", by, admin.id) for kind in LIFECYCLE]
    assert found[0]["arguments"] == ADDED
    assert found[1]["arguments"] == {"enabled": {"from": True, "to": False}}
    assert found[2]["arguments"] == {"enabled": {"from": False, "to": True}}
    assert SECRET not in whole_log(context)
    assert chain_verifies(context)


def test_web_refused_provider_forms_record_nothing(
    client: TestClient, context: AppContext, web_people: WebPeople
) -> None:
    token = signed_in(client, web_people.add(Role.ADMIN))
    form = {**OPENAI, "models": "gpt-4o", "csrf_token": token}
    assert client.post("/providers", data=form, headers=HTMX).status_code == 200
    before = records(context)
    refused = [
        client.post("/providers", data=form, headers=HTMX),  # the name exists
        client.post("/providers", data={**form, "name": "y", "api_key_env": PASTED}, headers=HTMX),
        client.post("/providers", data={**form, "name": "z", "csrf_token": ""}, headers=HTMX),
        client.post("/providers/missing/disable", data={"csrf_token": token}, headers=HTMX),
        client.post("/providers/missing/remove", data={"csrf_token": token}, headers=HTMX),
    ]
    assert [answer.status_code for answer in refused] == [409, 422, 403, 404, 404]
    assert records(context) == before and len(before) == 1
    assert PASTED not in whole_log(context)
    assert chain_verifies(context)


def test_web_price_form_is_audited_and_a_refused_one_is_not(
    client: TestClient, context: AppContext, web_people: WebPeople
) -> None:
    admin = web_people.add(Role.ADMIN)
    token = signed_in(client, admin)
    price = {"model": "o3", "input_uncached": "2", "output": "8", "cache_write": "2,5", "csrf_token": token}
    for starts in ("2026-01-01", "2026-02-01T12:00"):
        answer = client.post("/prices", data={**price, "effective_from": starts}, headers=HTMX)
        assert answer.status_code == 200 and "Price for o3 added" in answer.text, answer.text
    bad = client.post("/prices", data={**price, "output": "cheap"}, headers=HTMX)
    assert bad.status_code == 422
    found = records(context)
    assert [summary(r) for r in found] == [("admin.price_set", "price:o3", f"user:{admin.id}", admin.id)] * 2
    first, second = (r["arguments"] for r in found)
    assert isinstance(first, dict) and isinstance(second, dict)
    assert {k: second[k] for k in ("input_uncached", "cache_read", "cache_write", "output", "reasoning")} == {
        "input_uncached": 2.0,
        "cache_read": 2.0,
        "cache_write": 2.5,
        "output": 8.0,
        "reasoning": 8.0,
    }
    assert second["effective_from"] == "2026-02-01T12:00:00+00:00"
    assert first["replaces_price_id"] is None and second["replaces_price_id"] == first["price_id"]
    assert chain_verifies(context)


# --- CLI --------------------------------------------------------------------------------------------------


def test_cli_provider_commands_are_audited_as_the_cli(
    context: AppContext, tmp_path: Path, database_url: str
) -> None:
    def cli(*args: str) -> int:
        return run_cli(
            tmp_path, "providers", *args, database_url=database_url, env={KEY_VAR: SECRET}
        ).returncode

    add = ("add", "openai", "--kind", "openai", "--base-url", "https://api.openai.com/v1",
           "--api-key-env", KEY_VAR, "--models", "gpt-4o,gpt-4o-mini")  # fmt: skip
    assert [
        cli(*args) for args in (add, ("disable", "openai"), ("disable", "openai"), ("enable", "openai"))
    ] == [0] * 4
    assert cli(*add) == 2  # the name exists
    assert cli("add", "y", "--kind", "openai", "--base-url", "https://x.example/v1", "--api-key-env", PASTED,
               "--models", "m") == 2  # fmt: skip
    assert cli("enable", "missing") == 2
    assert cli("remove", "openai") == 0
    assert cli("remove", "openai") == 2

    found = records(context)
    assert [summary(r) for r in found] == [
        ("admin.provider_added", "provider:openai", "cli", None),
        ("admin.provider_changed", "provider:openai", "cli", None),
        ("admin.provider_changed", "provider:openai", "cli", None),
        ("admin.provider_removed", "provider:openai", "cli", None),
    ]
    assert found[0]["arguments"] == ADDED
    assert [r["arguments"] for r in found[1:3]] == [
        {"enabled": {"from": True, "to": False}},
        {"enabled": {"from": False, "to": True}},
    ]
    assert SECRET not in whole_log(context) and PASTED not in whole_log(context)
    assert chain_verifies(context)
    assert run_cli(tmp_path, "audit", "verify", database_url=database_url).returncode == 0


def test_cli_price_set_is_audited_as_the_cli(context: AppContext, tmp_path: Path, database_url: str) -> None:
    def cli(*args: str) -> int:
        return run_cli(tmp_path, "prices", "set", *args, database_url=database_url).returncode

    assert cli("claude-sonnet-4", "--input", "3", "--output", "15", "--from", "2026-01-01") == 0
    assert cli("claude-sonnet-4", "--input", "3", "--output", "15", "--from", "soon") == 2
    assert cli("claude-sonnet-4", "--input", "-1", "--output", "15") == 2
    assert (
        cli(
            "claude-sonnet-4", "--input", "2", "--output", "12", "--cache-read", "0.3", "--from", "2026-06-01"
        )
        == 0
    )

    found = records(context)
    assert [summary(r) for r in found] == [("admin.price_set", "price:claude-sonnet-4", "cli", None)] * 2
    first, second = (r["arguments"] for r in found)
    assert isinstance(first, dict) and isinstance(second, dict)
    assert first["replaces_price_id"] is None and first["effective_from"] == "2026-01-01T00:00:00+00:00"
    assert second == {
        "price_id": second["price_id"],
        "input_uncached": 2.0,
        "cache_read": 0.3,
        "cache_write": 2.0,
        "output": 12.0,
        "reasoning": 12.0,
        "effective_from": "2026-06-01T00:00:00+00:00",
        "replaces_price_id": first["price_id"],
    }
    assert chain_verifies(context)
