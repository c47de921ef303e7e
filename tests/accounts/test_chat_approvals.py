"""Approvals in chat, end to end through the real server and the Slack emulator: a run that waits shows
the exact call in its owner's Slack DM; a click by someone else changes nothing; the owner's click
approves that call and the run goes on to do it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from tests.accounts.slack_inbound import SIGNING_SECRET, post_signed
from tests.conftest import People, Person
from tests.runs.records import save_agent, wait_final, wait_status
from tests.servers.slack import BOT_TOKEN, BOT_USER, SlackEmulator


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # The compromised agent mails whatever address its input names; an outsider's address needs approval.
    return load_settings(
        data_dir=tmp_path, database_url=database_url, runs_executor="tests.policy.compromised_agent:build"
    )


def add_slack_account(client: TestClient, owner: Person, emulator: SlackEmulator) -> None:
    for name, value in (("slack-bot", BOT_TOKEN), ("slack-signing", SIGNING_SECRET)):
        stored = client.post("/api/v1/vault/secrets", headers=owner.auth, json={"name": name, "value": value})
        assert stored.status_code == 201, stored.text
    config = {"bot_token": "vault:slack-bot", "signing_secret": "vault:slack-signing",
              "base_url": emulator.api_url, "owner_slack_user": emulator.user_id("ana")}  # fmt: skip
    added = client.post("/api/v1/accounts", headers=owner.auth,
                        json={"name": "work-slack", "connector": "slack", "config": config})  # fmt: skip
    assert added.status_code == 201, added.text


def prompt_in_dm(emulator: SlackEmulator, approval_id: str, timeout: float = 30) -> dict[str, Any]:
    ana = emulator.person("ana")
    channel = ana.conversations_open(users=BOT_USER)["channel"]["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in ana.conversations_history(channel=channel, limit=20)["messages"]:
            if any(
                block.get("block_id") == f"meshclaw_approval:{approval_id}"
                for block in message.get("blocks", [])
            ):
                return dict(message)
        time.sleep(0.2)
    raise AssertionError(f"approval {approval_id} was not posted to the owner's DM")


def click(client: TestClient, message: dict[str, Any], action_id: str, user: str) -> int:
    button = next(e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == action_id)  # fmt: skip
    block_id = next(b["block_id"] for b in message["blocks"] if b["type"] == "actions")
    payload = {"type": "block_actions", "user": {"id": user},
               "container": {"type": "message", "message_ts": message["ts"]},
               "actions": [{**button, "block_id": block_id, "action_ts": "1.2"}]}  # fmt: skip
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return post_signed(client, body, "application/x-www-form-urlencoded").status_code


def sent(context: AppContext) -> list[dict[str, Any]]:
    log = context.settings.data_dir / "sent.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_an_approval_is_shown_and_answered_in_the_owners_slack(
    app_client: TestClient, context: AppContext, org_id: int, people: People, slack_emulator: SlackEmulator
) -> None:
    owner = people.add()
    add_slack_account(app_client, owner, slack_emulator)
    save_agent(
        context, org_id, owner, "mailer", model={"name": "scripted"}, tools=[{"tool": "mail_send_message"}]
    )
    started = app_client.post("/api/v1/runs", headers=owner.auth,
                              json={"agent": "mailer", "input": "send the agenda to ann@partner.example"})  # fmt: skip
    run_id = started.json()["id"]
    wait_status(context, run_id, "waiting_approval", timeout=60)
    (pending,) = app_client.get(f"/api/v1/runs/{run_id}", headers=owner.auth).json()["pending_approvals"]
    message = prompt_in_dm(slack_emulator, pending["id"])
    shown = json.dumps(message["blocks"])
    assert "mail_send_message" in shown and "ann@partner.example" in shown  # the exact call, not a summary

    # Bob sees the message somehow and clicks Approve: not the account's owner, nothing happens.
    assert click(app_client, message, "meshclaw_approve", slack_emulator.user_id("bob")) == 200
    time.sleep(1.0)
    assert (
        app_client.get(f"/api/v1/approvals/{pending['id']}", headers=owner.auth).json()["status"] == "pending"
    )
    assert sent(context) == []

    assert click(app_client, message, "meshclaw_approve", slack_emulator.user_id("ana")) == 200
    assert wait_final(context, run_id, timeout=60) == "succeeded"
    assert [m["to"] for m in sent(context)] == [["ann@partner.example"]]
    decided = app_client.get(f"/api/v1/approvals/{pending['id']}", headers=owner.auth).json()
    assert (
        decided["status"] == "used" and decided["note"] == "answered in slack (work-slack)"
    )  # approved, then run
