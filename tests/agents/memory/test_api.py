"""/api/v1/agents/{id}/memory through the real app: who may do what, and what each call does."""

from __future__ import annotations

from fastapi.testclient import TestClient

from meshclaw.agents.memory.recall import recall
from meshclaw.agents.memory.store import remember
from meshclaw.context import AppContext
from meshclaw.identity.principal import Role
from tests.agents.memory.conftest import add_agent
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS


@BOTH_BACKENDS
def test_owner_adds_searches_invalidates_and_confirms(
    client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    agent = add_agent(context, org_id, owner.id)
    base = f"/api/v1/agents/{agent}/memory"
    added = client.post(
        base, json={"content": "Ada prefers espresso", "kind": "preference"}, headers=owner.auth
    )
    assert added.status_code == 201, added.text
    item = added.json()
    assert (item["origin"], item["source"], item["created_by_user_id"]) == ("trusted", "person", owner.id)
    assert client.post(base, json={"content": "Ada  prefers espresso"}, headers=owner.auth).status_code == 200

    with context.db.session() as session:
        untrusted = remember(
            session,
            agent_id=agent,
            content="Espresso machine order from the mail",
            origin="untrusted",
            source="tool",
            run_id="run-7",
            now=context.clock.now(),
        ).memory

    found = client.get(f"{base}/search", params={"q": 'espresso AND ("ada"'}, headers=owner.auth)
    assert found.status_code == 200, found.text
    assert found.json()[0]["id"] == item["id"]
    assert {hit["origin"] for hit in found.json()} == {"trusted", "untrusted"}
    assert all(hit["recall_count"] == 0 for hit in found.json())  # a person searching is not a recall

    confirmed = client.post(f"{base}/{untrusted.id}/confirm", headers=owner.auth).json()
    assert (confirmed["origin"], confirmed["confirmed_by_user_id"]) == ("trusted", owner.id)

    gone = client.post(
        f"{base}/{item['id']}/invalidate", json={"reason": "switched to tea"}, headers=owner.auth
    )
    assert gone.json()["invalidated_reason"] == "switched to tea"
    listed = client.get(base, headers=owner.auth).json()
    assert [m["id"] for m in listed] == [untrusted.id]
    invalid = client.get(base, params={"state": "invalid"}, headers=owner.auth).json()
    assert [m["id"] for m in invalid] == [item["id"]]
    assert client.get(base, params={"run_id": "run-7", "state": "all"}, headers=owner.auth).json()[0][
        "id"
    ] == (untrusted.id)


@BOTH_BACKENDS
def test_snapshot_and_restore_through_the_api(
    client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    agent = add_agent(context, org_id, owner.id)
    base = f"/api/v1/agents/{agent}/memory"
    first = client.post(base, json={"content": "keep me"}, headers=owner.auth).json()
    snapshot = client.post(f"{base}/snapshots", json={"reason": "before a cleanup"}, headers=owner.auth)
    assert snapshot.status_code == 201
    client.post(f"{base}/{first['id']}/invalidate", json={}, headers=owner.auth)
    client.post(base, json={"content": "added later"}, headers=owner.auth)
    restored = client.post(f"{base}/snapshots/{snapshot.json()['id']}/restore", headers=owner.auth)
    assert restored.json() == {"snapshot_id": snapshot.json()["id"], "changed": 1, "invalidated": 1}
    assert [m["content"] for m in client.get(base, headers=owner.auth).json()] == ["keep me"]
    assert [s["reason"] for s in client.get(f"{base}/snapshots", headers=owner.auth).json()] == [
        "before a cleanup"
    ]


def test_who_may_do_what(client: TestClient, context: AppContext, org_id: int, people: People) -> None:
    team = people.team("Platform")
    manager = people.add(Role.MANAGER, team_id=team)
    owner = people.add(team_id=team, manager_id=manager.id)
    stranger = people.add()
    auditor = people.add(Role.AUDITOR)
    admin = people.add(Role.ADMIN)
    agent = add_agent(context, org_id, owner.id)
    base = f"/api/v1/agents/{agent}/memory"
    item = client.post(base, json={"content": "owner's private matter"}, headers=owner.auth).json()

    def answers(person_auth: dict[str, str]) -> tuple[int, int, int, int]:
        return (
            client.get(base, headers=person_auth).status_code,
            client.get(f"{base}/search", params={"q": "matter"}, headers=person_auth).status_code,
            client.post(base, json={"content": "x"}, headers=person_auth).status_code,
            client.post(f"{base}/{item['id']}/confirm", headers=person_auth).status_code,
        )

    assert answers(stranger.auth) == (404, 404, 404, 404)
    assert answers(manager.auth) == (403, 403, 403, 403)  # sees the agent, not its memory
    assert answers(auditor.auth) == (200, 200, 403, 403)
    assert answers(admin.auth) == (200, 200, 201, 200)
    assert client.get("/api/v1/agents/999999/memory", headers=admin.auth).status_code == 404
    assert client.post(f"{base}/999999/confirm", headers=admin.auth).status_code == 404
    with context.db.session() as session:
        assert recall(
            session, agent_id=agent, query="matter", now=context.clock.now()
        )  # untouched by browsing


def test_bad_input_is_refused(client: TestClient, context: AppContext, org_id: int, people: People) -> None:
    owner = people.add()
    base = f"/api/v1/agents/{add_agent(context, org_id, owner.id)}/memory"
    for body in (
        {"content": ""},
        {"content": "x", "kind": "rumour"},
        {"content": "x", "importance": 3},
        {"content": "x", "valid_to": "2999-01-01T00:00:00"},
        {"content": "a\u0000b"},
    ):
        assert client.post(base, json=body, headers=owner.auth).status_code == 422, body
    assert client.get(base, params={"state": "sometimes"}, headers=owner.auth).status_code in (400, 422)
    assert client.get(f"{base}/search", headers=owner.auth).status_code in (400, 422)
