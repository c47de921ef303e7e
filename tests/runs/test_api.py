"""Runs through /api/v1/runs: a manual run end to end with its steps and totals, who sees and starts
which runs, cancelling, and the durable wait for an approval decision."""

from __future__ import annotations

from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from meshclaw.identity.principal import Role
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS
from tests.runs.records import save_agent, wait_final, wait_status


@BOTH_BACKENDS
def test_a_manual_run_executes_and_its_history_shows_every_step(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    agent_id = save_agent(context, org_id, owner, "digest", settings={"tool_calls": 2})
    started = app_client.post("/api/v1/runs", json={"agent": "digest", "input": "go"}, headers=owner.auth)
    assert started.status_code == 202, started.text
    run = started.json()
    assert (run["agent_id"], run["trigger_kind"], run["mode"]) == (agent_id, "manual", "attended")

    assert wait_final(context, run["id"]) == "succeeded"
    shown = app_client.get(f"/api/v1/runs/{run['id']}", headers=owner.auth).json()
    assert [(s["seq"], s["kind"]) for s in shown["steps"]] == [
        (1, "model_call"), (2, "tool_call"), (3, "model_call"), (4, "tool_call")
    ]  # fmt: skip
    tool = shown["steps"][1]
    assert (tool["name"], tool["effect_class"], tool["decision"]) == (
        "effect_write_record",
        "write_internal",
        "allow",
    )
    assert (shown["input_tokens"], shown["output_tokens"]) == (20, 10)
    assert shown["output"] == f"done {run['id']}:1; done {run['id']}:2"
    assert shown["started_at"] and shown["ended_at"]

    listed = app_client.get("/api/v1/runs", params={"agent_id": agent_id}, headers=owner.auth).json()
    assert [r["id"] for r in listed] == [run["id"]]
    assert app_client.get("/api/v1/runs", params={"status": "failed"}, headers=owner.auth).json() == []


def test_runs_are_seen_by_owner_manager_and_auditor_and_started_only_by_owner_or_admin(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    team = people.team("Ops")
    owner = people.add(team_id=team)
    manager = people.add(Role.MANAGER, team_id=team)
    other = people.add()
    auditor = people.add(Role.AUDITOR)
    admin = people.add(Role.ADMIN)
    agent_id = save_agent(context, org_id, owner, settings={"tool_calls": 0})
    run_id = app_client.post("/api/v1/runs", json={"agent": agent_id}, headers=admin.auth).json()["id"]
    wait_final(context, run_id)

    for person in (owner, manager, auditor, admin):
        assert app_client.get(f"/api/v1/runs/{run_id}", headers=person.auth).status_code == 200
        assert [r["id"] for r in app_client.get("/api/v1/runs", headers=person.auth).json()] == [run_id]
    assert app_client.get(f"/api/v1/runs/{run_id}", headers=other.auth).status_code == 403
    assert app_client.get("/api/v1/runs", headers=other.auth).json() == []
    for person in (other, manager, auditor):
        assert (
            app_client.post("/api/v1/runs", json={"agent": agent_id}, headers=person.auth).status_code == 403
        )
    assert app_client.post("/api/v1/runs", json={"agent": "nope"}, headers=owner.auth).status_code == 404


def test_the_owner_is_told_when_someone_else_starts_their_agent(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    """The agent acts with its owner's grants, so an admin's run of it is the owner's business: one
    notification per run someone else starts, none for the owner's own runs."""
    owner = people.add()
    admin = people.add(Role.ADMIN)
    agent_id = save_agent(context, org_id, owner, "digest", settings={"tool_calls": 0})
    own = app_client.post("/api/v1/runs", json={"agent": "digest"}, headers=owner.auth).json()["id"]
    theirs = app_client.post("/api/v1/runs", json={"agent": agent_id}, headers=admin.auth)
    assert theirs.status_code == 202, theirs.text
    for run_id in (own, theirs.json()["id"]):
        wait_final(context, run_id)
    notes = app_client.get("/api/v1/notifications", headers=owner.auth).json()
    assert [(n["kind"], n["text"], n["link"]) for n in notes["items"]] == [
        ("run.started_by_other", f"{admin.email} started a run of your agent 'digest'",
         f"/runs/{theirs.json()['id']}"),
    ]  # fmt: skip
    assert app_client.get("/api/v1/notifications", headers=admin.auth).json()["items"] == []


def test_a_run_waits_durably_for_an_approval_and_resumes_on_the_decision(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    save_agent(context, org_id, owner, settings={"tool_calls": 1, "approval": True})
    run_id = app_client.post("/api/v1/runs", json={"agent": "worker"}, headers=owner.auth).json()["id"]
    wait_status(context, run_id, "waiting_approval")
    shown = app_client.get(f"/api/v1/runs/{run_id}", headers=owner.auth).json()
    assert [p["tool_call_id"] for p in shown["pending_approvals"]] == ["call-0"]

    decision = {"decisions": [{"tool_call_id": "call-0", "approved": True}]}
    assert (
        app_client.post(f"/api/v1/runs/{run_id}/approvals", json=decision, headers=owner.auth).status_code
        == 202
    )
    assert wait_final(context, run_id) == "succeeded"
    shown = app_client.get(f"/api/v1/runs/{run_id}", headers=owner.auth).json()
    assert shown["output"] == f"done {run_id}:1"
    again = app_client.post(f"/api/v1/runs/{run_id}/approvals", json=decision, headers=owner.auth)
    assert again.status_code == 409


def test_cancelling_a_run_ends_it_as_cancelled(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    save_agent(context, org_id, owner, settings={"tool_calls": 1, "approval": True})
    run_id = app_client.post("/api/v1/runs", json={"agent": "worker"}, headers=owner.auth).json()["id"]
    wait_status(context, run_id, "waiting_approval")
    cancelled = app_client.post(f"/api/v1/runs/{run_id}/cancel", headers=owner.auth)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert wait_final(context, run_id) == "cancelled"
