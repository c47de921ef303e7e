"""GET/POST /api/v1/prices: versions are appended, never edited; the running recorder prices new calls
with the new version at once, and calls already recorded keep their cost."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from meshclaw.db.models import ModelPrice
from tests.postgres import BOTH_BACKENDS
from tests.usage.conftest import DAY1, Org


@BOTH_BACKENDS
def test_a_new_version_is_appended_and_used_for_new_calls_only(org: Org) -> None:
    client, admin = org.client, org.admin
    before = org.record(org.member, DAY1, input_uncached=1_000_000)
    org.flush()
    now = org.people.context.clock.now()
    answer = client.post(
        "/api/v1/prices", json={"model": "gpt-4o", "input_uncached": 5, "output": 20}, headers=admin.auth
    )
    assert answer.status_code == 201, answer.text
    created = answer.json()
    # Unset cache prices default to the input price, reasoning to the output price; from now by default.
    assert {k: created[k] for k in ("cache_read", "cache_write", "reasoning", "current")} == {
        "cache_read": 5.0,
        "cache_write": 5.0,
        "reasoning": 20.0,
        "current": True,
    }
    assert abs((org.people.context.clock.now() - now).total_seconds()) < 60 and created[
        "effective_from"
    ].startswith(now.date().isoformat())

    after = org.record(org.member, now + timedelta(seconds=5), input_uncached=1_000_000)
    org.flush()
    items = {
        item["id"]: item["cost_usd"]
        for item in client.get("/api/v1/usage", headers=admin.auth).json()["items"]
    }
    assert items[before.event_id] == 2.5  # the January price, kept
    assert items[after.event_id] == 5.0  # the new price, picked up without a restart

    listed = client.get("/api/v1/prices?model=gpt-4o", headers=org.member.auth).json()
    assert [(p["input_uncached"], p["current"]) for p in listed] == [(2.5, False), (5.0, True)]
    with org.people.context.db.session() as session:
        rows = session.scalars(select(ModelPrice).where(ModelPrice.model == "gpt-4o")).all()
        assert sorted(row.input_uncached for row in rows) == [2.5, 5.0]  # the old row is untouched
        assert {row.created_by_user_id for row in rows} == {admin.id}


def test_a_future_price_is_listed_but_not_current(org: Org) -> None:
    answer = org.client.post(
        "/api/v1/prices",
        json={"model": "gpt-4o", "input_uncached": 1, "output": 2, "effective_from": "2099-01-01"},
        headers=org.admin.auth,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["effective_from"] == "2099-01-01T00:00:00Z"
    assert answer.json()["current"] is False
    listed = org.client.get("/api/v1/prices?model=gpt-4o", headers=org.admin.auth).json()
    assert [p["current"] for p in listed] == [True, False]


def test_only_admins_add_prices(org: Org) -> None:
    body = {"model": "m", "input_uncached": 1, "output": 1}
    for person in (org.member, org.manager, org.auditor):
        answer = org.client.post("/api/v1/prices", json=body, headers=person.auth)
        assert answer.status_code == 403
        assert org.client.get("/api/v1/prices", headers=person.auth).status_code == 200


def test_bad_prices_say_what_to_fix(org: Org) -> None:
    cases = [
        ({"model": "m", "input_uncached": -1, "output": 1}, "input_uncached", "greater than or equal to 0"),
        ({"model": "m", "input_uncached": 1}, "output", "required"),
        ({"model": "", "input_uncached": 1, "output": 1}, "model", "at least 1 character"),
        ({"model": "m", "input_uncached": 1, "output": 1, "cache_read": 1e9}, "cache_read", "100000"),
        ({"model": "m", "input_uncached": "cheap", "output": 1}, "input_uncached", "number"),
        (
            {"model": "m", "input_uncached": 1, "output": 1, "effective_from": "soon"},
            "effective_from",
            "datetime",
        ),
        ({"model": "m", "input": 1, "output": 1}, "input_uncached", "required"),  # the bucket's name
        ({"model": "m", "input_uncached": 1, "output": 1, "colour": "red"}, "colour", "Extra inputs"),
        ({"model": "   ", "input_uncached": 1, "output": 1}, "model", "must not be empty"),
    ]
    for body, field, says in cases:
        answer = org.client.post("/api/v1/prices", json=body, headers=org.admin.auth)
        assert answer.status_code == 422, (body, answer.text)
        error = answer.json()["error"]
        assert error["field"] == field, (body, error)
        assert says in error["message"], (body, error)
    assert len(org.client.get("/api/v1/prices?model=m", headers=org.admin.auth).json()) == 0
