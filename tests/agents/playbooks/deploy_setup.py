"""What the deployment playbooks' tests share: accounts added through the API against the real servers
(the blue/green setup, the Slack emulator), traffic for the watch to judge, and reading back runs, chat
messages and outcomes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.context import AppContext
from meshclaw.db.models import OutcomeEventRow, Run, RunStep
from tests.conftest import Person
from tests.connectors.deploy.test_bluegreen import ERROR_RATE, LATENCY_P95
from tests.servers.deploy import BlueGreen
from tests.servers.slack import BOT_USER, SlackEmulator

WINDOW_S = 5
"""The watch window of a healthy release: enough samples (one a second) to call it healthy."""


def deploy_config(
    setup: BlueGreen, state_dir: Path, environments: list[str], *, status: bool
) -> dict[str, Any]:
    """A command target on the blue/green setup. Its deploy script knows one environment (production);
    the account may call that same instance by other names (staging), so the argv passes the script the
    name it knows, and the account's `environments` are what the agent and the policy see."""

    def argv(action: str, *rest: str) -> list[str]:
        program = list(setup.command(action, *rest))
        return [setup.environment if part == "{environment}" else part for part in program]

    commands = {"deploy": argv("deploy", "{version}"), "rollback": argv("rollback")}
    if status:
        commands["status"] = argv("status")
    return {
        "target": {"kind": "command", "state_dir": str(state_dir), "timeout_seconds": 60,
                   "commands": {"web": commands}},
        "services": ["web"],
        "environments": environments,
        "poll_seconds": 1,
        "watch": {
            "health": {environment: setup.url + "/health" for environment in environments},
            "prometheus": setup.prometheus_url,
            "checks": [{"name": "error_rate", "query": ERROR_RATE, "max": 0.05},
                       {"name": "latency_p95", "query": LATENCY_P95, "max": 0.5}],
            "window_seconds": WINDOW_S, "interval_seconds": 1, "consecutive_breaches": 3,
        },
    }  # fmt: skip


def add_account(client: TestClient, owner: Person, name: str, connector: str, config: dict[str, Any]) -> None:
    added = client.post("/api/v1/accounts", headers=owner.auth,
                        json={"name": name, "connector": connector, "config": config})  # fmt: skip
    assert added.status_code == 201, added.text


def from_template(
    client: TestClient, owner: Person, template: str, name: str, settings: dict[str, str]
) -> int:
    made = client.post("/api/v1/agents/from-template", headers=owner.auth,
                       json={"template": template, "name": name, "settings": settings})  # fmt: skip
    assert made.status_code == 201, made.text
    return int(made.json()["agent"]["id"])


def runs_of(context: AppContext, agent_id: int) -> list[Run]:
    with context.db.session() as session:
        query = select(Run).where(Run.agent_id == agent_id).order_by(Run.created_at)
        return list(session.scalars(query))


def next_run(context: AppContext, agent_id: int, seen: int, *, timeout: float = 30) -> Run:
    """The agent's run number `seen + 1`, once it exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = runs_of(context, agent_id)
        if len(runs) > seen:
            return runs[seen]
        time.sleep(0.1)
    raise AssertionError(f"agent {agent_id} got no run number {seen + 1} within {timeout} s")


def outcomes(context: AppContext, run_id: str) -> list[str]:
    with context.db.session() as session:
        rows = session.scalars(select(OutcomeEventRow).where(OutcomeEventRow.run_id == run_id))
        return sorted(row.type for row in rows)


def model_calls(context: AppContext, run_id: str) -> int:
    with context.db.session() as session:
        query = select(RunStep).where(RunStep.run_id == run_id, RunStep.kind == "model_call")
        return len(list(session.scalars(query)))


def channel_texts(emulator: SlackEmulator, channel: str) -> list[str]:
    """The channel's messages, oldest first."""
    history = emulator.bot().conversations_history(channel=emulator.channel_id(channel), limit=200)
    return [str(message.get("text", "")) for message in reversed(history["messages"])]


def dm_texts(emulator: SlackEmulator, person: str) -> list[str]:
    """The person's DM with the bot, oldest first."""
    client = emulator.person(person)
    channel = client.conversations_open(users=BOT_USER)["channel"]["id"]
    history = client.conversations_history(channel=channel, limit=200)
    return [str(message.get("text", "")) for message in reversed(history["messages"])]


def pending_approval(client: TestClient, owner: Person, run_id: str) -> dict[str, Any]:
    (pending,) = client.get(f"/api/v1/runs/{run_id}", headers=owner.auth).json()["pending_approvals"]
    return dict(pending)


def approve(client: TestClient, owner: Person, approval_id: str) -> None:
    decided = client.post(
        f"/api/v1/approvals/{approval_id}", headers=owner.auth, json={"decision": "approve"}
    )
    assert decided.status_code == 200, decided.text
