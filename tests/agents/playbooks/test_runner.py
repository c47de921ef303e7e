"""The playbook runtime through the real server: a triage playbook sorts mail by rule and by a compromised
model that can only pick a label; its digest to the owner waits for approval (the run read outsiders'
mail); after the approval the playbook is replayed from its record, so no move happens twice, no model
call is paid twice and each outcome is counted once. Without a model it still runs, rules only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import OutcomeEventRow, Run, RunStep
from tests.conftest import People, Person
from tests.runs.records import save_agent, wait_final, wait_status

GRANTS = [{"tool": "mail_list_messages"}, {"tool": "mail_move_message"}, {"tool": "mail_send_message"}]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path, database_url=database_url,
                         runs_executor="tests.agents.playbooks.triage_agent:build")  # fmt: skip


def logged(context: AppContext, name: str) -> list[dict[str, Any]]:
    log = context.settings.data_dir / name
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def steps_of(context: AppContext, run_id: str, kind: str) -> list[RunStep]:
    with context.db.session() as session:
        return list(session.scalars(select(RunStep).where(RunStep.run_id == run_id, RunStep.kind == kind)))


def outcomes(context: AppContext, run_id: str) -> list[str]:
    with context.db.session() as session:
        rows = session.scalars(select(OutcomeEventRow).where(OutcomeEventRow.run_id == run_id))
        return sorted(row.type for row in rows)


def start(client: TestClient, owner: Person) -> str:
    started = client.post("/api/v1/runs", headers=owner.auth, json={"agent": "triage"})
    assert started.status_code in (201, 202), started.text
    return str(started.json()["id"])


def test_a_playbook_sorts_mail_waits_for_its_digest_and_replays_without_repeating(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    save_agent(context, org_id, owner, "triage", template="test-triage", model={"name": "scripted"},
               settings={"owner_email": owner.email}, tools=GRANTS)  # fmt: skip
    run_id = start(app_client, owner)
    wait_status(context, run_id, "waiting_approval", timeout=60)
    # Sorted: the newsletter by rule, the others by the model, which obeyed the attacker's "urgent" but
    # had no way to forward anything.
    assert logged(context, "moves.log") == [{"uid": 1, "folder": "urgent"}, {"uid": 2, "folder": "newsletter"},
                                            {"uid": 3, "folder": "urgent"}]  # fmt: skip
    assert logged(context, "sent.log") == []
    assert len(steps_of(context, run_id, "model_call")) == 2  # the newsletter cost no model call
    (pending,) = app_client.get(f"/api/v1/runs/{run_id}", headers=owner.auth).json()["pending_approvals"]
    assert (
        pending["args"]["to"] == [owner.email]
        and "outsiders can write (mail_list_messages)" in pending["reason"]
    )

    decided = app_client.post(
        f"/api/v1/approvals/{pending['id']}", headers=owner.auth, json={"decision": "approve"}
    )
    assert decided.status_code == 200, decided.text
    assert wait_final(context, run_id, timeout=60) == "succeeded"
    assert len(logged(context, "moves.log")) == 3  # replayed from the record, not moved again
    assert logged(context, "sent.log") == [
        {"to": [owner.email], "body": "Triaged: 1: urgent, 2: newsletter, 3: urgent"}
    ]
    assert len(steps_of(context, run_id, "model_call")) == 2  # the choices came from the record too
    assert outcomes(context, run_id) == ["digest.sent", "email.triaged", "email.triaged", "email.triaged"]
    with context.db.session() as session:
        run = session.get(Run, run_id)
        assert run is not None and json.loads(run.output or "{}")["digest"] == "sent"
    assert all("mallory" not in json.dumps(entry) for entry in logged(context, "sent.log"))


def test_a_denied_digest_is_skipped_and_without_a_model_the_rules_still_sort(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    save_agent(context, org_id, owner, "triage", template="test-triage", settings={"owner_email": owner.email},
               tools=GRANTS)  # fmt: skip
    run_id = start(app_client, owner)
    wait_status(context, run_id, "waiting_approval", timeout=60)
    assert [move["folder"] for move in logged(context, "moves.log")] == ["fyi", "newsletter", "fyi"]
    assert steps_of(context, run_id, "model_call") == []  # rules only: not a token spent
    (pending,) = app_client.get(f"/api/v1/runs/{run_id}", headers=owner.auth).json()["pending_approvals"]
    denied = app_client.post(f"/api/v1/approvals/{pending['id']}", headers=owner.auth,
                             json={"decision": "deny", "note": "not today"})  # fmt: skip
    assert denied.status_code == 200, denied.text
    assert wait_final(context, run_id, timeout=60) == "succeeded"
    assert logged(context, "sent.log") == [] and len(logged(context, "moves.log")) == 3
    with context.db.session() as session:
        run = session.get(Run, run_id)
        assert run is not None and "a person denied it" in json.loads(run.output or "{}")["digest"]
    assert outcomes(context, run_id) == ["email.triaged"] * 3
