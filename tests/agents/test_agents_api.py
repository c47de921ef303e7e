"""/api/v1/agents: create, apply versions, read them back, and who may see and change whose agents."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from tests.conftest import People, Person
from tests.postgres import BOTH_BACKENDS

SPEC: dict[str, Any] = {"name": "triage", "purpose": "sort mail", "triggers": [{"cron": "weekdays 07:00"}]}


def create(client: TestClient, person: Person, spec: dict[str, Any] = SPEC, **extra: Any) -> Any:
    return client.post("/api/v1/agents", headers=person.auth, json={"spec": spec, **extra})


def test_create_apply_and_read_versions(client: TestClient, people: People) -> None:
    alice = people.add()
    created = create(client, alice)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["outcome"] == "created" and body["version"]["number"] == 1
    agent_id = body["agent"]["id"]
    assert body["agent"]["owner_email"] == alice.email and body["agent"]["enabled"] is True

    url = f"/api/v1/agents/{agent_id}"
    same = client.put(url, headers=alice.auth, json={"spec": SPEC}).json()
    assert (same["outcome"], same["version"]["number"]) == ("unchanged", 1)
    changed = client.put(url, headers=alice.auth, json={"spec": {**SPEC, "purpose": "sort and label"}})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["outcome"], changed.json()["version"]["number"]) == ("updated", 2)

    detail = client.get(url, headers=alice.auth).json()
    assert detail["current_version"] == 2 and detail["purpose"] == "sort and label"
    assert [v["number"] for v in detail["versions"]] == [2, 1]
    v1 = client.get(f"{url}/versions/1", headers=alice.auth).json()
    assert v1["spec"]["purpose"] == "sort mail" and v1["spec_digest"] == body["version"]["spec_digest"]
    assert len(client.get(f"{url}/versions", headers=alice.auth).json()) == 2

    assert create(client, alice).status_code == 409  # create never overwrites; PUT does
    renamed = client.put(url, headers=alice.auth, json={"spec": {**SPEC, "name": "other"}})
    assert renamed.status_code == 422 and renamed.json()["error"]["field"] == "name"

    off = client.post(f"{url}/disable", headers=alice.auth)
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert client.post(f"{url}/enable", headers=alice.auth).json()["enabled"] is True


@BOTH_BACKENDS
def test_a_put_with_if_match_saves_only_over_the_version_it_names(client: TestClient, people: People) -> None:
    alice, admin = people.add(), people.add(Role.ADMIN)
    url = f"/api/v1/agents/{create(client, alice).json()['agent']['id']}"
    read = client.get(url, headers=alice.auth)
    assert read.headers["ETag"] == '"1"'

    # The admin saves a change over version 1; Alice, who read version 1 too, is then refused (412).
    theirs = {**SPEC, "purpose": "sort and label mail"}
    saved = client.put(url, headers={**admin.auth, "If-Match": '"1"'}, json={"spec": theirs})
    assert saved.status_code == 200 and saved.json()["version"]["number"] == 2, saved.text
    assert saved.headers["ETag"] == '"2"'
    for spec in ({**SPEC, "instructions": "be quick"}, SPEC, theirs):  # changed, untouched, or theirs
        stale = client.put(url, headers={**alice.auth, "If-Match": '"1"'}, json={"spec": spec})
        assert stale.status_code == 412, stale.text
        assert stale.headers["ETag"] == '"2"'
        error = stale.json()["error"]
        assert (error["code"], error["field"], error["current_version"]) == (
            "precondition_failed",
            "If-Match",
            2,
        )
        assert (
            error["message"].startswith("agent ")
            and 'is at version 2 ("2"), not the version If-Match' in error["message"]
        )
        assert (
            f"by {admin.email}; nothing was saved" in error["message"] and 'If-Match: "2"' in error["message"]
        )
    detail = client.get(url, headers=alice.auth).json()
    assert [v["number"] for v in detail["versions"]] == [2, 1] and detail["purpose"] == "sort and label mail"

    # Over the current version: saved (or unchanged), and the answer's ETag is the version now current.
    mine = client.put(
        url, headers={**alice.auth, "If-Match": '"2"'}, json={"spec": {**theirs, "instructions": "be quick"}}
    )
    assert (mine.status_code, mine.json()["outcome"], mine.headers["ETag"]) == (200, "updated", '"3"')
    for if_match in ('"3"', '"2", "3"', "*"):
        same = client.put(
            url, headers={**alice.auth, "If-Match": if_match}, json={"spec": mine.json()["version"]["spec"]}
        )
        assert (same.status_code, same.json()["outcome"], same.headers["ETag"]) == (200, "unchanged", '"3"')
    # Malformed: says what to send, saves nothing. Without If-Match, a PUT works as it always did.
    for if_match in ("3", 'W/"3"', '"three"', ""):
        bad = client.put(url, headers={**alice.auth, "If-Match": if_match}, json={"spec": SPEC})
        assert (bad.status_code, bad.json()["error"]["field"]) == (400, "If-Match"), if_match
        assert (
            'send the ETag header of the GET as it came, quotes included (If-Match: "3")'
            in bad.json()["error"]["message"]
        )
    old_client = client.put(url, headers=alice.auth, json={"spec": SPEC})
    assert (old_client.status_code, old_client.json()["version"]["number"]) == (200, 4)
    assert client.get(url, headers=alice.auth).headers["ETag"] == '"4"'


def test_invalid_definitions_name_the_field(client: TestClient, people: People) -> None:
    alice = people.add()
    bad_tz = {"name": "a", "triggers": [{"kind": "cron", "cron": "daily 03:00", "timezone": "Nowhere/X"}]}
    answer = create(client, alice, bad_tz)
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "triggers[0].timezone"
    assert "unknown time zone 'Nowhere/X'" in answer.json()["error"]["message"]
    no_model = create(client, alice, {"name": "a", "model": {"name": "gpt-9"}})
    assert no_model.status_code == 422
    assert no_model.json()["error"]["field"] == "model.name"
    assert "meshclaw providers add" in no_model.json()["error"]["message"]
    unknown_tool = create(client, alice, {"name": "a", "tools": [{"tool": "fax_send_page"}]})
    assert unknown_tool.status_code == 422 and unknown_tool.json()["error"]["field"] == "tools[0].tool"
    known_tool = create(client, alice, {"name": "a", "tools": [{"tool": "time_get_now"}]})
    assert known_tool.status_code == 201, known_tool.text
    sneaky = client.post("/api/v1/agents", headers=alice.auth, json={"spec": {"name": "b", "owner": "x"}})
    assert sneaky.status_code == 422 and sneaky.json()["error"]["field"] == "owner"


def test_create_from_template(client: TestClient, people: People) -> None:
    admin, alice = people.add(Role.ADMIN), people.add()
    added = client.post(
        "/api/v1/providers",
        headers=admin.auth,
        json={
            "name": "local",
            "kind": "openai-compatible",
            "base_url": "http://127.0.0.1:9/v1",
            "models": ["m1"],
        },
    )
    assert added.status_code == 201, added.text
    listed = client.get("/api/v1/agents/templates", headers=alice.auth).json()
    assert {"assistant", "inbox-triage"} <= {t["name"] for t in listed}
    made = client.post(
        "/api/v1/agents/from-template",
        headers=alice.auth,
        json={"template": "assistant", "name": "helper", "settings": {"model": "m1"}},
    )
    assert made.status_code == 201, made.text
    spec = client.get(f"/api/v1/agents/{made.json()['agent']['id']}", headers=alice.auth).json()["spec"]
    assert (spec["template"], spec["model"]["name"], spec["memory"]) == ("assistant", "m1", True)


@pytest.fixture
def org(client: TestClient, people: People) -> dict[str, Person]:
    """A manager of team 'eng' with a report, a member elsewhere, an admin and an auditor; the report and
    the outsider have one agent each."""
    eng, sales = people.team("eng"), people.team("sales")
    manager = people.add(Role.MANAGER, team_id=eng)
    found = {
        "manager": manager,
        "report": people.add(team_id=eng, manager_id=manager.id),
        "outsider": people.add(team_id=sales),
        "admin": people.add(Role.ADMIN),
        "auditor": people.add(Role.AUDITOR),
    }
    for who in ("report", "outsider"):
        assert create(client, found[who], {"name": f"{who}-bot"}).status_code == 201
    return found


MATRIX = [
    # who, the agents listed, then reading and changing someone else's agent: the report's for the
    # manager, the outsider's for the others (404: not visible at all; 403: visible, not changeable).
    ("report", {"report-bot"}, "outsider-bot", 404, 404),
    ("outsider", {"outsider-bot"}, "report-bot", 404, 404),
    ("manager", {"report-bot"}, "report-bot", 200, 403),
    ("auditor", {"report-bot", "outsider-bot"}, "outsider-bot", 200, 403),
    ("admin", {"report-bot", "outsider-bot"}, "outsider-bot", 200, 200),
]


def test_who_sees_and_changes_whose_agents(client: TestClient, org: dict[str, Person]) -> None:
    """One app for the whole matrix: each role's row is checked in turn (the admin's last, as it changes)."""
    ids = {a["name"]: a["id"] for a in client.get("/api/v1/agents", headers=org["admin"].auth).json()}
    for who, sees, other, read, change in MATRIX:
        person, url = org[who], f"/api/v1/agents/{ids[other]}"
        listed = {a["name"] for a in client.get("/api/v1/agents", headers=person.auth).json()}
        assert listed == sees, who
        assert client.get(url, headers=person.auth).status_code == read, who
        assert client.get(f"{url}/versions/1", headers=person.auth).status_code == read, who
        assert client.post(f"{url}/disable", headers=person.auth).status_code == change, who
        put = client.put(url, headers=person.auth, json={"spec": {"name": other, "purpose": who}})
        assert put.status_code == change, who
    # Only the admin's change went through.
    assert (
        client.get(f"/api/v1/agents/{ids['outsider-bot']}", headers=org["outsider"].auth).json()["purpose"]
        == "admin"
    )
    assert (
        client.get(f"/api/v1/agents/{ids['report-bot']}", headers=org["report"].auth).json()[
            "current_version"
        ]
        == 1
    )


def test_only_admins_name_another_owner_and_filters_stay_in_reach(
    client: TestClient, org: dict[str, Person]
) -> None:
    report = org["report"]
    refused = create(client, org["manager"], {"name": "for-report"}, owner=report.email)
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "owner"
    made = create(client, org["admin"], {"name": "for-report"}, owner=report.email)
    assert made.status_code == 201 and made.json()["agent"]["owner_email"] == report.email
    assert made.json()["version"]["created_by_user_id"] == org["admin"].id
    assert "for-report" in {a["name"] for a in client.get("/api/v1/agents", headers=report.auth).json()}
    # A filter naming someone out of reach is refused rather than answered with an empty list.
    answer = client.get("/api/v1/agents", headers=org["report"].auth, params={"owner": org["outsider"].email})
    assert answer.status_code == 403
    mine = client.get("/api/v1/agents", headers=org["manager"].auth, params={"owner": org["report"].email})
    assert [a["name"] for a in mine.json()] == ["for-report", "report-bot"]


def test_read_only_key_cannot_create(client: TestClient, people: People) -> None:
    reader = people.add(scopes=["api:read"])
    assert create(client, reader).status_code == 403
