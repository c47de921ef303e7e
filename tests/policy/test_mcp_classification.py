"""An MCP tool nobody classified counts as destructive and waits for a person; once an admin gives it its
class, runs of every agent with the identical server follow that class; a server that merely has the same
name (another command or environment) does not inherit it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import AuditEvent
from meshclaw.identity.principal import Role
from tests.conftest import People
from tests.runs.records import save_agent, wait_final, wait_status

SERVER = str(Path(__file__).parents[1] / "agents" / "runtime" / "mcp_server.py")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        data_dir=tmp_path, database_url=database_url, runs_executor="tests.policy.mcp_agent:build"
    )


def chat_server(log: Path) -> dict[str, Any]:
    return {"name": "chat", "command": [sys.executable, SERVER], "env": {"MCP_TEST_LOG": str(log)}}


def test_an_admins_class_replaces_destructive_for_that_exact_server(
    app_client: TestClient, context: AppContext, org_id: int, people: People, tmp_path: Path
) -> None:
    admin, owner = people.add(role=Role.ADMIN), people.add()
    server = chat_server(tmp_path / "mcp.log")
    agent_id = save_agent(context, org_id, owner, "poster", model={"name": "scripted"}, mcp_servers=[server],
                          allow_overlap=True)  # fmt: skip
    impostor_server = chat_server(tmp_path / "other.log")  # same name and program, another environment
    save_agent(context, org_id, owner, "impostor", model={"name": "scripted"}, mcp_servers=[impostor_server])

    def run(agent: str) -> str:
        answer = app_client.post(
            "/api/v1/runs", json={"agent": agent, "input": "post it"}, headers=owner.auth
        )
        assert answer.status_code in (201, 202), answer.text
        return str(answer.json()["id"])

    first = run("poster")
    wait_status(context, first, "waiting_approval", timeout=60)
    (pending,) = app_client.get(f"/api/v1/runs/{first}", headers=owner.auth).json()["pending_approvals"]
    assert pending["effect"] == "destructive" and "effect destructive" in pending["reason"]

    url = f"/api/v1/policy/agents/{agent_id}/mcp-tools"
    body = {"server": "chat", "tool": "post_message", "effect": "write_internal", "note": "team channel only"}
    assert app_client.post(url, json=body, headers=owner.auth).status_code == 403
    bad = app_client.post(url, json={**body, "effect": "harmless"}, headers=admin.auth)
    assert bad.status_code in (400, 422) and "is not an effect class" in bad.text
    missing = app_client.post(url, json={**body, "server": "mail"}, headers=admin.auth)
    assert missing.status_code == 404 and "no MCP server named 'mail'" in missing.text
    assert app_client.post(url, json=body, headers=admin.auth).status_code == 201
    (listed,) = app_client.get(url, headers=owner.auth).json()
    assert listed["server"] == "chat" and [t["tool"] for t in listed["classified"]] == ["post_message"]

    second = run("poster")
    assert wait_final(context, second, timeout=60) == "succeeded"
    with context.db.session() as session:
        row = session.scalars(select(AuditEvent).where(AuditEvent.run_id == second)).one()
        assert (row.kind, row.tool, row.effect_class, row.rule) == (
            "tool.executed", "chat_post_message", "write_internal", "effect.contained")  # fmt: skip
        kinds = session.scalars(
            select(AuditEvent.kind).where(AuditEvent.kind == "admin.tool_classified")
        ).all()
        assert kinds == ["admin.tool_classified"]

    third = run("impostor")
    wait_status(context, third, "waiting_approval", timeout=60)
