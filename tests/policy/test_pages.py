"""/policy: admins allow destinations and pre-approve patterns from the page; members read it without the
forms, and their posts are refused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from meshclaw.identity.principal import Role
from tests.runs.records import save_agent
from tests.web.conftest import WebPeople, signed_in


def test_admin_changes_the_policy_from_the_page(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople
) -> None:
    admin, owner = web_people.add(Role.ADMIN), web_people.add()
    agent_id = save_agent(context, org_id, owner, "deployer", tools=[{"tool": "deploy_start_release"}])  # type: ignore[arg-type]
    token = signed_in(client, admin)
    page = client.get("/policy")
    assert page.status_code == 200 and 'href="/policy"' in page.text and "Allow destination" in page.text
    # The agent is picked by name and owner, not typed as an id.
    assert f'<option value="{agent_id}">deployer ({owner.email})</option>' in page.text
    added = client.post(
        "/policy/egress", data={"value": "partner.example", "note": "agency", "csrf_token": token}
    )
    assert added.status_code == 200 and "<code>partner.example</code>" in added.text
    bad = client.post("/policy/egress", data={"value": "no such thing", "csrf_token": token})
    assert "is not a domain" in bad.text
    constraints = "service=web\nenvironment=staging"
    made = client.post("/policy/preapprovals", data={"agent_id": str(agent_id), "tool": "deploy_start_release",
                                                     "constraints": constraints, "csrf_token": token})  # fmt: skip
    assert "<code>service=web</code>, <code>environment=staging</code>" in made.text
    assert f"{owner.email}/deployer" in made.text
    wrong = client.post("/policy/preapprovals", data={"agent_id": str(agent_id), "tool": "deploy_start_release",
                                                      "constraints": "staging", "csrf_token": token})  # fmt: skip
    assert "is not NAME=VALUE" in wrong.text
    assert f'<option value="{agent_id}" selected>deployer ({owner.email})</option>' in wrong.text  # kept
    unchosen = client.post("/policy/preapprovals", data={"agent_id": "", "tool": "deploy_start_release",
                                                         "csrf_token": token})  # fmt: skip
    assert unchosen.status_code == 422 and "Choose the agent the pre-approval is for." in unchosen.text
    beyond = client.post("/policy/preapprovals", data={"agent_id": str(2**64), "tool": "deploy_start_release",
                                                       "csrf_token": token})  # fmt: skip
    assert beyond.status_code == 422  # not a database overflow (a 500)


def test_members_read_the_policy_but_cannot_change_it(client: TestClient, web_people: WebPeople) -> None:
    member = web_people.add()
    token = signed_in(client, member)
    page = client.get("/policy")
    assert page.status_code == 200 and "Allow destination" not in page.text
    assert 'href="/policy"' not in page.text  # not in a member's navigation
    refused = client.post("/policy/egress", data={"value": "evil.example", "csrf_token": token})
    assert refused.status_code == 403
