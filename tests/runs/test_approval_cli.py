"""`meshclaw approvals list | approve ID | deny ID`: the operator decides from the shell; the decision is
recorded and audited as `cli`, and the run the server executes carries on with it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from meshclaw.db.models import AuditEvent
from tests.cli_runner import run_cli
from tests.conftest import LiveServer, People
from tests.runs.approval_agent import ASKED, DEPLOY, deploys
from tests.runs.records import save_agent, wait_final, wait_status


@pytest.fixture
def live_server_settings() -> dict[str, Any]:
    return {"runs_executor": "tests.runs.approval_agent:build"}


def test_the_operator_lists_then_approves_and_denies_from_the_shell(live_server: LiveServer) -> None:
    context, url = live_server.context, live_server.url
    owner = People(context, org_id=1).add()
    run_ids = []
    for name in ("deployer", "releaser"):  # two agents: one agent's runs do not overlap
        save_agent(context, 1, owner, name, model={"name": "scripted"}, tools=[{"tool": DEPLOY}])
        started = httpx.post(
            f"{url}/api/v1/runs", json={"agent": name, "input": "deploy"}, headers=owner.auth
        )
        run_ids.append(started.json()["id"])
    for run_id in run_ids:
        wait_status(context, run_id, "waiting_approval", timeout=60)
    data_dir = context.settings.data_dir

    listed = run_cli(data_dir, "approvals", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    by_run = {a["run_id"]: a for a in json.loads(listed.stdout)}
    assert sorted(by_run) == sorted(run_ids) and all(a["args"] == ASKED for a in by_run.values())
    table = run_cli(data_dir, "approvals", "list")
    assert DEPLOY in table.stdout and "production" in table.stdout

    first, second = (by_run[run_id]["id"] for run_id in run_ids)
    approved = run_cli(data_dir, "approvals", "approve", first)
    assert approved.returncode == 0 and "approved" in approved.stdout, approved.stderr
    denied = run_cli(data_dir, "approvals", "deny", second, "--note", "not today")
    assert denied.returncode == 0 and "denied" in denied.stdout, denied.stderr
    assert run_cli(data_dir, "approvals", "approve", first).returncode != 0, "a decision counts once"
    assert run_cli(data_dir, "approvals", "approve", "0" * 32).returncode == 2

    assert [wait_final(context, run_id, timeout=60) for run_id in run_ids] == ["succeeded", "succeeded"]
    assert deploys(data_dir) == [ASKED]
    with context.db.session() as session:
        kinds = session.execute(
            select(AuditEvent.kind, AuditEvent.invoked_by, AuditEvent.approval_id).where(
                AuditEvent.kind.like("approval.%")
            )
        ).all()
    assert sorted(kinds) == sorted([("approval.granted", "cli", first), ("approval.denied", "cli", second)])
