"""/api/v1/policy: admins allow destinations and pre-approve narrow patterns, everyone sees them, every
change is audited, and bad input says what to fix."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.context import AppContext
from meshclaw.db.models import AuditEvent
from meshclaw.identity.principal import Role
from tests.conftest import People
from tests.runs.records import save_agent


def audited(context: AppContext) -> list[tuple[str, str | None]]:
    with context.db.session() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.kind.startswith("admin.")).order_by(AuditEvent.seq)
        )
        return [(row.kind, row.target) for row in rows]


def test_admins_allow_destinations_everyone_reads_them(
    client: TestClient, context: AppContext, people: People
) -> None:
    admin, member = people.add(role=Role.ADMIN), people.add()
    added = client.post("/api/v1/policy/egress", json={"value": "Partner.Example", "note": "our agency"},
                        headers=admin.auth)  # fmt: skip
    assert added.status_code == 201, added.text
    assert added.json()["value"] == "partner.example"
    prefix = client.post("/api/v1/policy/egress", json={"kind": "url_prefix", "value": "https://hooks.ci.example/acme/"},
                         headers=admin.auth)  # fmt: skip
    assert prefix.status_code == 201
    listed = client.get("/api/v1/policy/egress", headers=member.auth).json()
    assert listed["internal_domains"] == ["example.org"]
    assert [(rule["kind"], rule["value"]) for rule in listed["allowed"]] == [
        ("domain", "partner.example"), ("url_prefix", "https://hooks.ci.example/acme/")]  # fmt: skip
    assert (
        client.post("/api/v1/policy/egress", json={"value": "evil.example"}, headers=member.auth).status_code
        == 403
    )
    assert client.delete(f"/api/v1/policy/egress/{added.json()['id']}", headers=admin.auth).status_code == 204
    assert [
        r["value"] for r in client.get("/api/v1/policy/egress", headers=member.auth).json()["allowed"]
    ] == ["https://hooks.ci.example/acme/"]
    assert audited(context)[-3:] == [
        ("admin.egress_allowed", f"egress_rule:{added.json()['id']}"),
        ("admin.egress_allowed", f"egress_rule:{prefix.json()['id']}"),
        ("admin.egress_removed", f"egress_rule:{added.json()['id']}"),
    ]


def test_bad_destinations_say_what_to_fix(client: TestClient, people: People) -> None:
    admin = people.add(role=Role.ADMIN)
    for body, expected in [
        ({"value": "not a domain"}, "is not a domain"),
        ({"kind": "url_prefix", "value": "http://hooks.example/"}, "is not an https URL prefix"),
        ({"kind": "url_prefix", "value": "https://hooks.example"}, "is not an https URL prefix"),
    ]:
        response = client.post("/api/v1/policy/egress", json=body, headers=admin.auth)
        assert response.status_code in (400, 422), response.text
        assert expected in response.text
    client.post("/api/v1/policy/egress", json={"value": "partner.example"}, headers=admin.auth)
    again = client.post("/api/v1/policy/egress", json={"value": "partner.example"}, headers=admin.auth)
    assert again.status_code in (400, 409, 422) and "already allowed" in again.text


def test_admins_preapprove_narrow_patterns_for_one_agent(
    client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    admin, owner, other = people.add(role=Role.ADMIN), people.add(), people.add()
    agent_id = save_agent(context, org_id, owner, "deployer", tools=[{"tool": "deploy_start_release"}])
    url = f"/api/v1/policy/agents/{agent_id}/preapprovals"
    body = {"tool": "deploy_start_release", "constraints": {"service": "web", "environment": "staging"}}
    assert (
        client.post(url, json=body, headers=owner.auth).status_code == 403
    )  # owners cannot approve themselves
    created = client.post(url, json=body, headers=admin.auth)
    assert created.status_code == 201, created.text
    assert client.get(url, headers=owner.auth).json()[0]["constraints"] == {
        "service": "web",
        "environment": "staging",
    }
    assert client.get(url, headers=other.auth).status_code == 404
    too_broad = client.post(url, json={"tool": "deploy_*"}, headers=admin.auth)
    assert too_broad.status_code in (400, 422) and "too broad" in too_broad.text
    not_a_tool = client.post(url, json={"tool": "Deploy!"}, headers=admin.auth)
    assert not_a_tool.status_code in (400, 422) and "is not a tool name" in not_a_tool.text
    assert client.delete(f"{url}/{created.json()['id']}", headers=admin.auth).status_code == 204
    assert client.get(url, headers=owner.auth).json() == []
    assert [kind for kind, _ in audited(context)][-2:] == [
        "admin.preapproval_added",
        "admin.preapproval_removed",
    ]
