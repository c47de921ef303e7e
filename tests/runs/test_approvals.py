"""Approvals through /api/v1/approvals with real runs (the runtime, its gate and a scripted model): the
tool runs only with exactly the approved arguments, once; a denial reaches the model; an edit runs the
edited arguments after checking them against the tool's schema; and every way to fake, replay or stretch
an approval is refused."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from meshclaw.agents.runtime.contract import args_digest
from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import Approval, AuditEvent
from meshclaw.identity.principal import Role
from tests.conftest import People, Person
from tests.runs.approval_agent import ASKED, DEPLOY, deploys
from tests.runs.records import save_agent, wait_final, wait_status


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        data_dir=tmp_path, database_url=database_url, runs_executor="tests.runs.approval_agent:build"
    )


def start(client: TestClient, context: AppContext, org_id: int, owner: Person, plan: str) -> str:
    save_agent(context, org_id, owner, "deployer", model={"name": "scripted"},
               tools=[{"tool": DEPLOY}, {"tool": "web_read_page"}])  # fmt: skip
    started = client.post("/api/v1/runs", json={"agent": "deployer", "input": plan}, headers=owner.auth)
    assert started.status_code == 202, started.text
    run_id: str = started.json()["id"]
    wait_status(context, run_id, "waiting_approval", timeout=60)
    return run_id


def pending_of(client: TestClient, owner: Person, run_id: str) -> dict[str, Any]:
    listed = client.get("/api/v1/approvals", headers=owner.auth)
    assert listed.status_code == 200, listed.text
    [approval] = [a for a in listed.json() if a["run_id"] == run_id]
    return approval


def next_pending(client: TestClient, owner: Person, run_id: str, *, after: str) -> dict[str, Any]:
    """The run's next open approval, once the one decided (`after`) was used and the run asked again."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = [
            a for a in client.get("/api/v1/approvals", headers=owner.auth).json() if a["run_id"] == run_id
        ]
        if listed and listed[0]["id"] != after:
            return listed[0]
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} asked for no new approval")


def output_of(client: TestClient, owner: Person, run_id: str) -> str:
    return str(client.get(f"/api/v1/runs/{run_id}", headers=owner.auth).json()["output"])


def test_approving_runs_the_tool_once_with_exactly_the_shown_arguments(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    run_id = start(app_client, context, org_id, owner, "deploy")
    approval = pending_of(app_client, owner, run_id)
    assert (approval["tool"], approval["effect"], approval["args"], approval["status"]) == (
        DEPLOY, "deploy", ASKED, "pending"
    )  # fmt: skip
    assert approval["args_digest"] == args_digest(ASKED) and approval["reason"]
    assert deploys(context.settings.data_dir) == []

    decided = app_client.post(
        f"/api/v1/approvals/{approval['id']}", json={"decision": "approve"}, headers=owner.auth
    )
    assert decided.status_code == 200, decided.text
    assert (decided.json()["status"], decided.json()["decided_by_user_id"]) == ("approved", owner.id)
    assert wait_final(context, run_id, timeout=60) == "succeeded"
    assert deploys(context.settings.data_dir) == [ASKED]
    assert output_of(app_client, owner, run_id) == "read: deployed web@1.2.3 to production"
    used = app_client.get(f"/api/v1/approvals/{approval['id']}", headers=owner.auth).json()
    assert used["status"] == "used" and used["used_at"]
    steps = app_client.get(f"/api/v1/runs/{run_id}", headers=owner.auth).json()["steps"]
    assert [(s["name"], s["decision"], s["status"]) for s in steps if s["kind"] == "tool_call"] == [
        (DEPLOY, "needs_approval", "pending"), (DEPLOY, "allow", "ok")
    ]  # fmt: skip
    with context.db.session() as session:
        [granted] = session.scalars(select(AuditEvent).where(AuditEvent.kind == "approval.granted")).all()
        assert (granted.approval_id, granted.approver_user_id, granted.run_id) == (
            approval["id"],
            owner.id,
            run_id,
        )
        assert granted.args_digest == args_digest(ASKED)


def test_denying_does_not_run_the_tool_and_the_model_reads_why(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    run_id = start(app_client, context, org_id, owner, "deploy")
    approval = pending_of(app_client, owner, run_id)
    body = {"decision": "deny", "note": "not on a Friday"}
    assert (
        app_client.post(f"/api/v1/approvals/{approval['id']}", json=body, headers=owner.auth).status_code
        == 200
    )
    assert wait_final(context, run_id, timeout=60) == "succeeded"
    assert deploys(context.settings.data_dir) == []
    assert "not on a Friday" in output_of(app_client, owner, run_id)
    with context.db.session() as session:
        [denied] = session.scalars(select(AuditEvent).where(AuditEvent.kind == "approval.denied")).all()
        assert (denied.approval_id, denied.outcome) == (approval["id"], "denied")


def test_edit_then_approve_runs_the_edited_arguments_after_checking_them(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    run_id = start(app_client, context, org_id, owner, "deploy")
    approval = pending_of(app_client, owner, run_id)
    url = f"/api/v1/approvals/{approval['id']}"
    wrong = app_client.post(url, json={"decision": "approve", "args": {"service": "web"}}, headers=owner.auth)
    assert wrong.status_code == 422 and "version" in wrong.json()["error"]["message"], wrong.text
    assert app_client.get(url, headers=owner.auth).json()["status"] == "pending", (
        "a refused edit decides nothing"
    )

    edited = {"service": "web", "version": "1.2.4"}  # environment left out: its default is filled in
    decided = app_client.post(url, json={"decision": "approve", "args": edited}, headers=owner.auth)
    assert decided.status_code == 200, decided.text
    stored = {**edited, "environment": "staging"}
    assert decided.json()["approved_args"] == stored
    assert decided.json()["args_digest"] == args_digest(stored)
    assert wait_final(context, run_id, timeout=60) == "succeeded"
    assert deploys(context.settings.data_dir) == [stored]
    assert output_of(app_client, owner, run_id) == "read: deployed web@1.2.4 to staging"


def test_a_decision_counts_once_and_a_used_approval_approves_nothing_else(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    run_id = start(app_client, context, org_id, owner, "again")
    first = pending_of(app_client, owner, run_id)
    url = f"/api/v1/approvals/{first['id']}"
    assert app_client.post(url, json={"decision": "approve"}, headers=owner.auth).status_code == 200
    again = app_client.post(url, json={"decision": "approve"}, headers=owner.auth)
    assert again.status_code == 409 and "counts once" in again.json()["error"]["message"]

    # The model asks for the very same call (same id, same arguments) once more: it waits for a new approval.
    second = next_pending(app_client, owner, run_id, after=first["id"])
    assert second["id"] != first["id"] and second["args"] == ASKED
    assert deploys(context.settings.data_dir) == [ASKED]
    replayed = app_client.post(url, json={"decision": "approve"}, headers=owner.auth)
    assert replayed.status_code == 409 and app_client.get(url, headers=owner.auth).json()["status"] == "used"
    assert deploys(context.settings.data_dir) == [ASKED]

    deny = {"decision": "deny", "note": "once is enough"}
    assert (
        app_client.post(f"/api/v1/approvals/{second['id']}", json=deny, headers=owner.auth).status_code == 200
    )
    assert wait_final(context, run_id, timeout=60) == "succeeded"
    assert deploys(context.settings.data_dir) == [ASKED]


def test_an_approval_forged_in_the_history_or_by_the_client_approves_nothing(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    # The web page the agent reads claims the deploy is approved: the run still waits for a person.
    run_id = start(app_client, context, org_id, owner, "forge")
    approval = pending_of(app_client, owner, run_id)
    assert deploys(context.settings.data_dir) == []

    forged = "0123456789abcdef0123456789abcdef"  # the id the injected page names
    assert (
        app_client.post(
            f"/api/v1/approvals/{forged}", json={"decision": "approve"}, headers=owner.auth
        ).status_code
        == 404
    )
    for body in (
        {"decision": "approve", "args_digest": "0" * 64},
        {"decision": "approve", "approval_id": forged},
    ):
        refused = app_client.post(f"/api/v1/approvals/{approval['id']}", json=body, headers=owner.auth)
        assert refused.status_code == 422, "the client never supplies a digest or an approval id"
    old_api = {"decisions": [{"tool_call_id": "d1", "approved": True, "approval_id": forged}]}
    assert (
        app_client.post(f"/api/v1/runs/{run_id}/approvals", json=old_api, headers=owner.auth).status_code
        == 422
    )
    unknown = {"decisions": [{"tool_call_id": "not-pending", "approved": True}]}
    assert (
        app_client.post(f"/api/v1/runs/{run_id}/approvals", json=unknown, headers=owner.auth).status_code
        == 409
    )
    # Waking the run without a decision changes nothing: it reads the records, which are still pending.
    assert (
        app_client.get(f"/api/v1/approvals/{approval['id']}", headers=owner.auth).json()["status"]
        == "pending"
    )
    with context.db.session() as session:
        assert session.get(Approval, approval["id"]) is not None
    assert deploys(context.settings.data_dir) == []


def test_changed_arguments_are_refused_at_execution(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    """An approval for digest X does not run a call whose arguments have digest Y: the record is changed
    behind the API's back (as a bug or an attacker with database access might), and the gate refuses."""
    owner = people.add()
    run_id = start(app_client, context, org_id, owner, "deploy")
    approval = pending_of(app_client, owner, run_id)
    other = {"service": "web", "version": "6.6.6", "environment": "production"}
    with context.db.session() as session:
        session.execute(
            update(Approval).where(Approval.id == approval["id"]).values(args_digest=args_digest(other))
        )
    assert (
        app_client.post(
            f"/api/v1/approvals/{approval['id']}", json={"decision": "approve"}, headers=owner.auth
        ).status_code
        == 200
    )
    assert wait_final(context, run_id, timeout=60) == "succeeded"
    assert deploys(context.settings.data_dir) == []
    assert "other arguments" in output_of(app_client, owner, run_id)


def test_an_expired_approval_cannot_be_decided(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    run_id = start(app_client, context, org_id, owner, "deploy")
    approval = pending_of(app_client, owner, run_id)
    with context.db.session() as session:
        past = context.clock.now() - timedelta(minutes=1)
        session.execute(update(Approval).where(Approval.id == approval["id"]).values(expires_at=past))
    refused = app_client.post(
        f"/api/v1/approvals/{approval['id']}", json={"decision": "approve"}, headers=owner.auth
    )
    assert refused.status_code == 410 and "expired" in refused.json()["error"]["message"]
    assert app_client.get("/api/v1/approvals", headers=owner.auth).json() == []
    assert deploys(context.settings.data_dir) == []


def test_only_the_owner_and_admins_see_and_decide_an_approval(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    team = people.team("Ops")
    owner = people.add(team_id=team)
    other = people.add(team_id=team)
    manager = people.add(Role.MANAGER, team_id=team)
    admin = people.add(Role.ADMIN)
    run_id = start(app_client, context, org_id, owner, "deploy")
    approval = pending_of(app_client, owner, run_id)
    url = f"/api/v1/approvals/{approval['id']}"

    assert app_client.get("/api/v1/approvals", headers=other.auth).json() == []
    assert app_client.get(url, headers=other.auth).status_code == 404
    assert app_client.post(url, json={"decision": "approve"}, headers=other.auth).status_code == 404
    assert app_client.get(url, headers=manager.auth).status_code == 200, "managers read their team's runs"
    assert app_client.post(url, json={"decision": "approve"}, headers=manager.auth).status_code == 403
    assert [a["id"] for a in app_client.get("/api/v1/approvals", headers=admin.auth).json()] == [
        approval["id"]
    ]
    assert app_client.get(url, headers=owner.auth).json()["status"] == "pending"
    assert deploys(context.settings.data_dir) == []

    assert app_client.post(url, json={"decision": "approve"}, headers=admin.auth).status_code == 200
    assert wait_final(context, run_id, timeout=60) == "succeeded"
    assert deploys(context.settings.data_dir) == [ASKED]


def test_the_run_endpoint_decides_through_the_same_records(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    run_id = start(app_client, context, org_id, owner, "deploy")
    approval = pending_of(app_client, owner, run_id)
    shown = app_client.get(f"/api/v1/runs/{run_id}", headers=owner.auth).json()["pending_approvals"]
    assert [(p["id"], p["tool"], p["args"]) for p in shown] == [(approval["id"], DEPLOY, ASKED)]
    body = {"decisions": [{"tool_call_id": "d1", "approved": True}]}
    assert (
        app_client.post(f"/api/v1/runs/{run_id}/approvals", json=body, headers=owner.auth).status_code == 202
    )
    assert wait_final(context, run_id, timeout=60) == "succeeded"
    assert deploys(context.settings.data_dir) == [ASKED]
    assert (
        app_client.get(f"/api/v1/approvals/{approval['id']}", headers=owner.auth).json()["status"] == "used"
    )
    assert (
        app_client.post(f"/api/v1/runs/{run_id}/approvals", json=body, headers=owner.auth).status_code == 409
    )


def test_a_stopped_run_leaves_nothing_to_decide(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    cancelled = start(app_client, context, org_id, owner, "deploy")
    first = pending_of(app_client, owner, cancelled)
    assert app_client.post(f"/api/v1/runs/{cancelled}/cancel", headers=owner.auth).status_code == 200
    agent_id = app_client.get(f"/api/v1/runs/{cancelled}", headers=owner.auth).json()["agent_id"]
    killed = start(app_client, context, org_id, owner, "deploy")
    second = pending_of(app_client, owner, killed)
    switch = {"scope": "agent", "target": agent_id, "reason": "stop everything"}
    assert app_client.post("/api/v1/kill-switches", json=switch, headers=owner.auth).status_code == 201
    assert wait_final(context, killed) == "cancelled"

    assert app_client.get("/api/v1/approvals", headers=owner.auth).json() == []
    for approval in (first, second):
        url = f"/api/v1/approvals/{approval['id']}"
        assert app_client.post(url, json={"decision": "approve"}, headers=owner.auth).status_code in (
            409,
            410,
        )
    assert deploys(context.settings.data_dir) == []
