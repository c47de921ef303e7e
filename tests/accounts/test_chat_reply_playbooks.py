"""The owner's DM goes to one agent. With the chat assistant and deploy on request both listening to it, a
question starts only the assistant (its answer in the thread), and a message that starts like a deploy
request starts only deploy on request: one it cannot carry out is refused in the DM, with nothing in the
message's thread and no answer from the assistant. The triggers route it before any run is recorded
(`text_matches` on deploy on request's, `fallback` on the assistant's), so neither pays for the other's."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.agents.templates import builtin_templates
from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import Run
from tests.accounts.test_chat_approvals import add_slack_account
from tests.accounts.test_chat_assistant import answer_to, dm
from tests.conftest import People
from tests.runs.records import save_agent
from tests.servers.slack import BOT_USER, SlackEmulator


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path, database_url=database_url,
                         runs_executor="tests.accounts.chat_assistant_agent:build")  # fmt: skip


def runs_of_message(context: AppContext, ts: str, timeout: float = 60) -> dict[int, Run]:
    """The runs a message started, by agent, once there is one and every one has ended. (An event's runs
    are recorded in one `publish` call, so none appears after the first has ended.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with context.db.session() as session:
            found = {run.agent_id: run for run in session.scalars(select(Run))
                     if (run.trigger_detail.get("fields") or {}).get("ts") == ts}  # fmt: skip
        if found and all(run.ended_at is not None for run in found.values()):
            return found
        time.sleep(0.1)
    raise AssertionError(f"the message {ts} started no run, or its runs did not end")


def thread_of(emulator: SlackEmulator, message: dict[str, Any]) -> list[str]:
    ana = emulator.person("ana")
    replies = ana.conversations_replies(channel=message["channel"], ts=message["ts"])["messages"]
    return [str(reply.get("text", "")) for reply in replies[1:]]


def dm_texts(emulator: SlackEmulator) -> list[str]:
    ana = emulator.person("ana")
    channel = ana.conversations_open(users=BOT_USER)["channel"]["id"]
    return [str(m.get("text", "")) for m in ana.conversations_history(channel=channel, limit=50)["messages"]]


def test_a_question_goes_to_the_assistant_and_a_deploy_request_to_deploy_on_request(
    app_client: TestClient, context: AppContext, org_id: int, people: People, slack_emulator: SlackEmulator
) -> None:
    owner = people.add()
    add_slack_account(app_client, owner, slack_emulator)
    templates = builtin_templates()
    assistant = templates.get("chat-assistant").spec(
        "helper", {"model": "scripted", "slack_account": "work-slack"}
    )
    deployer = templates.get("deploy-on-request").spec("deployer", {
        "deploy_account": "stage", "slack_account": "work-slack", "services": "web", "environments": "staging"})  # fmt: skip
    helper_id = save_agent(
        context, org_id, owner, "helper", **assistant.model_dump(mode="json", exclude={"name"})
    )
    deployer_id = save_agent(
        context, org_id, owner, "deployer", **deployer.model_dump(mode="json", exclude={"name"})
    )

    question = dm(slack_emulator, app_client, "ana", "what is 6 times 7?")
    runs = runs_of_message(context, question["ts"])
    assert set(runs) == {helper_id}  # deploy on request did not start: the message is not for it
    assert runs[helper_id].status == "succeeded"
    assert (
        answer_to(slack_emulator, question)["text"] == "The answer is 42."
    )  # and nothing else in the thread
    assert not any(text.startswith(":no_entry:") for text in dm_texts(slack_emulator))

    # A deploy request it may not carry out: only deploy on request starts, and tells the owner why in
    # the DM; the assistant, whose trigger is a fallback, does not answer it too.
    request = dm(slack_emulator, app_client, "ana", "Deploy web 1.4.2 to production")
    runs = runs_of_message(context, request["ts"])
    assert set(runs) == {deployer_id}
    assert runs[deployer_id].status == "succeeded"
    assert json.loads(runs[deployer_id].output or "{}")["deployed"] is False
    assert any("'production' is not an environment I deploy" in text for text in dm_texts(slack_emulator))
    assert thread_of(slack_emulator, request) == []
