"""The kill switch in the web UI: the agent page's button, its engaged state and releasing it; the
organization-wide switch on /kill-switches, for admins only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from meshclaw.identity.principal import Role
from tests.conftest import People
from tests.runs.records import save_agent
from tests.web.conftest import WebPeople, signed_in


def test_the_agent_page_engages_shows_and_releases_its_switch(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = WebPeople(context, people).add()
    agent_id = save_agent(context, org_id, owner, "mailer", settings={"tool_calls": 0})
    token = signed_in(app_client, owner)
    page = app_client.get(f"/agents/{agent_id}").text
    assert 'id="agent-kill"' in page and "Kill switch: stop its runs now" in page

    engaged = app_client.post(
        "/kill-switches",
        data={"csrf_token": token, "scope": "agent", "target": str(agent_id), "reason": "odd replies",
              "next": f"/agents/{agent_id}"},
        follow_redirects=False,
    )  # fmt: skip
    assert engaged.status_code == 303 and engaged.headers["location"] == f"/agents/{agent_id}?notice=engaged"
    page = app_client.get(engaged.headers["location"]).text
    assert "<strong>engaged</strong>: the kill switch on agent &#39;mailer&#39; (odd replies)" in page
    assert "Release the kill switch" in page and 'id="agent-kill"' not in page
    run = app_client.post("/api/v1/runs", json={"agent": agent_id}, headers={"X-CSRF-Token": token}).json()
    assert run["status"] == "skipped"

    [switch] = app_client.get("/api/v1/kill-switches", params={"engaged": True}).json()
    released = app_client.post(
        f"/kill-switches/{switch['id']}/release",
        data={"csrf_token": token, "next": f"/agents/{agent_id}"},
        follow_redirects=False,
    )
    assert released.headers["location"] == f"/agents/{agent_id}?notice=released"
    assert 'id="agent-kill"' in app_client.get(f"/agents/{agent_id}").text


def test_admins_pull_the_organization_wide_switch_and_members_cannot(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    web = WebPeople(context, people)
    admin, member = web.add(Role.ADMIN), web.add()
    save_agent(context, org_id, member, settings={"tool_calls": 0})

    token = signed_in(app_client, member)
    page = app_client.get("/kill-switches").text
    assert 'id="org-switch"' not in page and 'id="my-switch"' in page
    assert 'href="/kill-switches"' not in app_client.get("/org").text  # not in a member's navigation
    refused = app_client.post("/kill-switches", data={"csrf_token": token, "scope": "org", "reason": "x"})
    assert refused.status_code == 403

    app_client.cookies.clear()
    token = signed_in(app_client, admin)
    assert 'href="/kill-switches"' in app_client.get("/org").text
    assert 'id="org-switch"' in app_client.get("/kill-switches").text
    done = app_client.post(
        "/kill-switches", data={"csrf_token": token, "scope": "org", "reason": "incident 7"}
    )
    assert done.status_code == 200
    assert 'id="org-switch-state"' in done.text and "incident 7" in done.text
    assert 'id="org-switch"' not in done.text

    app_client.cookies.clear()
    token = signed_in(app_client, member)
    run = app_client.post("/api/v1/runs", json={"agent": "worker"}, headers={"X-CSRF-Token": token}).json()
    assert run["error"] == "the organization-wide kill switch is engaged (incident 7)"
    page = app_client.get("/kill-switches").text
    assert 'id="org-switch-state"' in page and "Release</button>" not in page  # only admins release it
