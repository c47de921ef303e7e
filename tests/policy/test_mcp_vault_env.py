"""An MCP server's `vault:NAME` environment values are read from the vault when a run starts (the owner's
secret, else the organization's) and reach the server process; a missing secret fails the run saying
which and how to store it; the value appears in no run record, step or audit row."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.agents.spec import McpServer
from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import AuditEvent, Run, RunStep
from meshclaw.policy import classifications
from meshclaw.vault.store import Vault
from tests.conftest import People
from tests.runs.records import save_agent, wait_final

SERVER = str(Path(__file__).parents[1] / "agents" / "runtime" / "mcp_server.py")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        data_dir=tmp_path, database_url=database_url, runs_executor="tests.policy.mcp_agent:build"
    )


def test_vault_references_reach_the_server_and_nothing_else(
    app_client: TestClient, context: AppContext, org_id: int, people: People, tmp_path: Path
) -> None:
    owner = people.add()
    secret_path = str(tmp_path / "secret-named-log-file.txt")  # the "secret": where the server writes
    server = {"name": "chat", "command": [sys.executable, SERVER], "env": {"MCP_TEST_LOG": "vault:chat-log"}}
    save_agent(context, org_id, owner, "poster", model={"name": "scripted"}, mcp_servers=[server])
    with context.db.session() as session:
        classifications.classify(session, org_id=org_id, server=McpServer.model_validate(server), tool="post_message",
                                  effect="write_internal", note="", by_user_id=None, now=context.clock.now())  # fmt: skip

    def run() -> str:
        answer = app_client.post(
            "/api/v1/runs", json={"agent": "poster", "input": "post"}, headers=owner.auth
        )
        assert answer.status_code in (201, 202), answer.text
        return str(answer.json()["id"])

    missing = run()
    assert wait_final(context, missing, timeout=60) == "failed"
    error = app_client.get(f"/api/v1/runs/{missing}", headers=owner.auth).json()["error"]
    assert (
        "needs the vault secret 'chat-log' (MCP_TEST_LOG)" in error and "meshclaw vault set chat-log" in error
    )

    with context.db.session() as session:
        Vault.for_data_dir(context.settings.data_dir).put(session, org_id=org_id, owner_user_id=owner.id,
                                                           name="chat-log", value=secret_path, purpose="mcp",
                                                           now=context.clock.now())  # fmt: skip
    done = run()
    assert wait_final(context, done, timeout=60) == "succeeded"
    assert Path(secret_path).read_text() == "general:standup at 10\n"
    with context.db.session() as session:
        stored = [
            str(row.__dict__)
            for model in (Run, RunStep, AuditEvent)
            for row in session.scalars(select(model))
        ]
    assert stored and not any(secret_path in text for text in stored)
