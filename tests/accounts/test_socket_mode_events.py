"""Slack events over Socket Mode, end to end through the server: the hub opens the account's Socket Mode
connection (to the suite's own endpoint before the emulator), a mention of the bot starts the agent whose
trigger matches, tainted (someone else wrote it), and Slack redelivering the same event starts nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import Run
from tests.conftest import People
from tests.runs.records import save_agent, wait_final
from tests.servers.slack import BOT_TOKEN, BOT_USER
from tests.servers.slack_socket import APP_TOKEN, SlackFront, slack_front, slack_front_server  # noqa: F401


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        data_dir=tmp_path, database_url=database_url, runs_executor="tests.runs.scripted:build"
    )


def mention(event_id: str) -> dict[str, object]:
    return {"type": "event_callback", "team_id": "T000000001", "event_id": event_id, "event_time": 1700000000,
            "event": {"type": "app_mention", "user": "U0BOB", "text": f"<@{BOT_USER}> is web healthy?",
                      "ts": "1700000000.000100", "channel": "C000000001"}}  # fmt: skip


def test_a_mention_over_socket_mode_starts_a_tainted_run_once(
    app_client: TestClient, context: AppContext, org_id: int, people: People,
    slack_front: SlackFront,  # noqa: F811
) -> None:  # fmt: skip
    owner = people.add()
    for name, value in (("bot", BOT_TOKEN), ("app", APP_TOKEN), ("signing", "unused-signing-secret")):
        stored = app_client.post(
            "/api/v1/vault/secrets", headers=owner.auth, json={"name": f"slack-{name}", "value": value}
        )
        assert stored.status_code == 201, stored.text
    config = {"bot_token": "vault:slack-bot", "app_token": "vault:slack-app", "signing_secret": "vault:slack-signing",
              "base_url": slack_front.api_url}  # fmt: skip
    added = app_client.post("/api/v1/accounts", headers=owner.auth,
                            json={"name": "team-slack", "connector": "slack", "config": config})  # fmt: skip
    assert added.status_code == 201, added.text
    agent_id = save_agent(context, org_id, owner, "helper", settings={"tool_calls": 0}, allow_overlap=True,
                          triggers=[{"kind": "event", "event": "chat.mentioned", "match": {"account": "team-slack"}}])  # fmt: skip
    slack_front.wait_connected(timeout=30)  # the hub picks the account up within its rescan

    assert set(slack_front.push("events_api", mention("Ev0PLATFORM1"))) == {"envelope_id"}
    slack_front.push("events_api", mention("Ev0PLATFORM1"))  # Slack redelivers it

    def runs() -> list[Run]:
        with context.db.session() as session:
            return list(session.scalars(select(Run).where(Run.agent_id == agent_id)))

    deadline = time.monotonic() + 20
    while not runs() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # room for a second run, if the redelivery were to start one
    (started,) = runs()
    assert started.trigger_detail["event"] == "chat.mentioned" and started.trigger_detail["untrusted"] is True
    assert started.trigger_detail["fields"]["user"] == "U0BOB"
    assert wait_final(context, started.id, timeout=30) == "succeeded"
