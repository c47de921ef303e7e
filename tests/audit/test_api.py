"""/api/v1/audit and /audit: admins and auditors only; admin actions through the API leave records."""

from __future__ import annotations

from fastapi.testclient import TestClient

from meshclaw.api.audit_trail import audit_log
from meshclaw.audit.record import AuditRecord
from meshclaw.context import AppContext
from meshclaw.identity.principal import Role
from tests.conftest import People
from tests.runs.records import save_agent
from tests.web.conftest import WebPeople, signed_in


def test_admin_actions_are_audited_and_only_admins_and_auditors_read_them(
    client: TestClient, people: People
) -> None:
    admin, auditor, member = people.add(Role.ADMIN), people.add(Role.AUDITOR), people.add()
    created = client.post("/api/v1/keys", json={"name": "ci", "user_id": member.id}, headers=admin.auth)
    assert created.status_code == 201, created.text
    key_id = created.json()["id"]
    assert client.delete(f"/api/v1/keys/{key_id}", headers=admin.auth).status_code == 200
    assert (
        client.patch(f"/api/v1/users/{member.id}", json={"role": "manager"}, headers=admin.auth).status_code
        == 200
    )
    assert (
        client.patch(f"/api/v1/users/{member.id}", json={"active": False}, headers=admin.auth).status_code
        == 200
    )

    page = client.get("/api/v1/audit", params={"kind": "admin.*"}, headers=auditor.auth)
    assert page.status_code == 200, page.text
    events = page.json()["events"]
    assert [e["kind"] for e in events] == [
        "admin.user_deactivated",
        "admin.role_changed",
        "admin.key_revoked",
        "admin.key_created",
    ]
    assert events[1]["arguments"] == {"from": "member", "to": "manager"}
    assert events[3]["target"] == f"api_key:{key_id}" and events[3]["invoked_by"].startswith("api-key:")
    assert created.json()["key"] not in page.text  # the new key's secret is not in its record
    assert all(e["on_behalf_of_user_id"] == admin.id for e in events)

    verified = client.get("/api/v1/audit/verify", headers=admin.auth).json()
    assert verified["ok"] is True and verified["last_seq"] == 4

    for person in (people.add(), people.add(Role.MANAGER)):  # (member is deactivated by now)
        assert client.get("/api/v1/audit", headers=person.auth).status_code == 403
        assert client.get("/api/v1/audit/verify", headers=person.auth).status_code == 403


def test_filters_and_paging(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    for n in range(5):
        client.post("/api/v1/keys", json={"name": f"k{n}"}, headers=admin.auth)
    first = client.get("/api/v1/audit", params={"limit": 2}, headers=admin.auth).json()
    assert [e["seq"] for e in first["events"]] == [5, 4] and first["next_before"] == 4
    second = client.get(
        "/api/v1/audit", params={"limit": 2, "before": first["next_before"]}, headers=admin.auth
    ).json()
    assert [e["seq"] for e in second["events"]] == [3, 2]
    assert client.get("/api/v1/audit", params={"tool": "nope"}, headers=admin.auth).json()["events"] == []
    assert client.get("/api/v1/audit", params={"since": "soon"}, headers=admin.auth).status_code == 400


def test_the_audit_page_is_for_admins_and_auditors(
    client: TestClient, context: AppContext, web_people: WebPeople
) -> None:
    admin = web_people.add(Role.ADMIN)
    signed_in(client, admin)
    page = client.get("/audit", params={"check": "1"})
    assert page.status_code == 200 and "Chain verified" in page.text
    assert 'href="/audit"' in page.text
    client.cookies.clear()
    signed_in(client, web_people.add(Role.MEMBER))
    assert client.get("/audit").status_code == 403
    assert 'href="/audit"' not in client.get("/account").text


def test_the_audit_page_names_people_and_agents_and_filters_by_email(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople
) -> None:
    """An auditor knows people by email and agents by name, not by row ids."""
    admin, owner, approver = web_people.add(Role.ADMIN), web_people.add(), web_people.add()
    agent_id = save_agent(context, org_id, owner, "triage")
    with context.db.session() as session:
        audit_log(context).append(
            session,
            AuditRecord(kind="tool.executed", actor_agent_id=agent_id, on_behalf_of_user_id=owner.id,
                        invoked_by="trigger:1", tool="email_send_message", decision="needs_approval",
                        approval_id="ap-1", approver_user_id=approver.id, outcome="ok"),
            now=context.clock.now(),
        )  # fmt: skip
    signed_in(client, admin)
    page = client.get("/audit")
    assert f'<option value="{agent_id}">triage ({owner.email})</option>' in page.text
    row = page.text.split('<table id="audit-events">', 1)[1]
    assert f'<a href="/agents/{agent_id}">triage ({owner.email})</a>' in row
    assert f"<td>{owner.email}</td>" in row and f"ap-1 by {approver.email}" in row
    mine = client.get("/audit", params={"user_id": owner.email.upper(), "agent_id": str(agent_id)})
    assert mine.status_code == 200 and "email_send_message" in mine.text
    assert f'<option value="{agent_id}" selected>' in mine.text
    nobody = client.get("/audit", params={"user_id": "nobody@example.org"})
    assert nobody.status_code == 400 and "nobody in this organization has the email" in nobody.text
    bad_date = client.get("/audit", params={"since": "soon"})  # a 500 before: the error page missed a value
    assert bad_date.status_code == 400 and 'role="alert"' in bad_date.text
    others = client.get("/audit", params={"user_id": str(approver.id)})
    assert "email_send_message" not in others.text  # the approver is not whom the call was for
