"""/api/v1/budgets through the real app on SQLite and PostgreSQL: set, replace, list with status, remove,
validation that names the field, the running limiter applying a change at once, and alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from meshclaw.limits.admission import Limiter, LimitExceeded, Subject
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS


def budget(subject: str | int, **fields: Any) -> dict[str, Any]:
    return {"subject_type": "user", "subject": subject, "unit": "usd", "period": "day", "amount": 5, **fields}


@BOTH_BACKENDS
def test_set_replace_list_and_remove_a_budget(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    ada = people.add(email="ada@example.org")
    created = client.post("/api/v1/budgets", json=budget("ada@example.org", amount=2.5), headers=admin.auth)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["subject"] == "user ada@example.org"
    assert body["subject_id"] == ada.id
    assert (body["amount"], body["spent"], body["reached"]) == (2.5, 0.0, False)
    assert body["description"] == "hard budget of 2.50 USD per day (UTC)"
    now = datetime.now(UTC)
    assert body["resets_at"] == (
        now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    ).isoformat().replace("+00:00", "Z")
    replaced = client.post("/api/v1/budgets", json=budget(ada.id, amount=7), headers=admin.auth)
    assert replaced.status_code == 200
    assert replaced.json()["id"] == body["id"]
    rate = client.post(
        "/api/v1/budgets",
        json=budget(ada.id, unit="requests", period="minute", amount=60),
        headers=admin.auth,
    )
    assert rate.status_code == 201
    assert rate.json()["spent"] is None and rate.json()["description"] == "60 requests per minute"
    listed = client.get("/api/v1/budgets", headers=admin.auth).json()
    assert sorted((b["unit"], b["amount"]) for b in listed) == [("requests", 60), ("usd", 7)]
    assert client.delete(f"/api/v1/budgets/{body['id']}", headers=admin.auth).status_code == 204
    assert client.delete(f"/api/v1/budgets/{body['id']}", headers=admin.auth).status_code == 404
    assert [b["unit"] for b in client.get("/api/v1/budgets", headers=admin.auth).json()] == ["requests"]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"subject": "nobody@example.org"}, "subject", "no user 'nobody@example.org'"),
        ({"subject_type": "team", "subject": "Nowhere"}, "subject", "no team 'Nowhere'"),
        ({"subject_type": "group"}, "subject_type", "unknown subject type 'group'"),
        ({"amount": -5}, "amount", "greater than 0"),
        ({"amount": 0}, "amount", "greater than 0"),
        ({"unit": "tokens", "amount": 1.5}, "amount", "whole number of tokens"),
        ({"period": "fortnight"}, "period", "unknown period 'fortnight' for usd; use day, week, month"),
        ({"unit": "requests", "period": "day"}, "period", "use minute"),
        ({"unit": "euros"}, "unit", "unknown unit 'euros'"),
        ({"unit": "concurrent", "period": None, "enforcement": "soft"}, "enforcement", "always hard"),
        ({"enforcement": "maybe"}, "enforcement", "unknown enforcement 'maybe'"),
    ],
)
def test_bad_input_is_refused_with_the_field_named(
    client: TestClient, people: People, fields: dict[str, Any], field: str, words: str
) -> None:
    admin = people.add(Role.ADMIN)
    people.add(email="ada@example.org")
    answer = client.post("/api/v1/budgets", json={**budget("ada@example.org"), **fields}, headers=admin.auth)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["field"] == field
    assert words in error["message"]


def test_a_missing_field_is_named(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    answer = client.post("/api/v1/budgets", json={"subject_type": "user", "unit": "usd"}, headers=admin.auth)
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "subject"


@BOTH_BACKENDS
def test_a_budget_set_through_the_api_applies_to_the_running_limiter_at_once(
    client: TestClient, people: People
) -> None:
    admin = people.add(Role.ADMIN)
    ada = people.add(email="ada@example.org")
    limiter = client.app.state.limiter  # type: ignore[attr-defined]
    assert isinstance(limiter, Limiter)
    me = Subject(user_id=ada.id)
    now = datetime.now(UTC)
    created = client.post(
        "/api/v1/budgets", json=budget(ada.id, unit="concurrent", period=None, amount=1), headers=admin.auth
    ).json()
    ticket = limiter.admit(me, reserve_tokens=0, reserve_cost_microusd=0, now=now)
    with pytest.raises(LimitExceeded) as refused:
        limiter.admit(me, reserve_tokens=0, reserve_cost_microusd=0, now=now)
    assert str(refused.value).startswith("user ada@example.org: 1 concurrent requests reached")
    client.delete(f"/api/v1/budgets/{created['id']}", headers=admin.auth)
    limiter.admit(me, reserve_tokens=0, reserve_cost_microusd=0, now=now)
    ticket.settle(tokens=0, cost_microusd=0, now=now)


@BOTH_BACKENDS
def test_members_read_the_budgets_that_apply_to_them_and_their_alerts(
    client: TestClient, people: People
) -> None:
    admin = people.add(Role.ADMIN)
    platform = people.team("Platform")
    sales = people.team("Sales")
    ada = people.add(team_id=platform, email="ada@example.org")
    people.add(team_id=platform, email="bob@example.org")
    for fields in (
        budget(ada.id, enforcement="soft", amount=1),
        budget("bob@example.org"),
        budget("Platform", subject_type="team", unit="tokens", period="month", amount=1000),
        budget(sales, subject_type="team"),
        budget(9, subject_type="agent"),
    ):
        assert client.post("/api/v1/budgets", json=fields, headers=admin.auth).status_code == 201
    mine = client.get("/api/v1/budgets", headers=ada.auth).json()
    assert sorted(b["subject"] for b in mine) == ["team Platform", "user ada@example.org"]
    assert len(client.get("/api/v1/budgets", headers=admin.auth).json()) == 5

    # Spend past Ada's soft budget through the running limiter: one alert, for Ada and admins only.
    limiter = client.app.state.limiter  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    limiter.admit(Subject(user_id=ada.id), reserve_tokens=0, reserve_cost_microusd=0, now=now).settle(
        tokens=0, cost_microusd=2_000_000, now=now
    )
    limiter.reload()  # stores pending alerts now instead of on the next background round
    alerts = client.get("/api/v1/budgets/alerts", headers=ada.auth).json()
    assert [(a["subject"], a["amount"], a["spent"]) for a in alerts] == [("user ada@example.org", 1.0, 2.0)]
    assert len(client.get("/api/v1/budgets/alerts", headers=admin.auth).json()) == 1
    tomorrow = (now + timedelta(days=1)).strftime("%Y-%m-%d")
    assert client.get(f"/api/v1/budgets/alerts?since={tomorrow}", headers=admin.auth).json() == []
    assert client.get("/api/v1/budgets/alerts?since=soon", headers=admin.auth).status_code == 422
    bob = people.add(team_id=sales, email="carol@example.org")
    assert client.get("/api/v1/budgets/alerts", headers=bob.auth).json() == []
