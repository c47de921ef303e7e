"""The owner's DM starts every agent that listens to it: with the chat assistant and deploy on request both
enabled, a question gets the assistant's answer in its thread and nothing from deploy on request (neither
its report as JSON under the question nor a refusal notice); a deploy request it cannot carry out still
tells the owner why, in the DM, and still puts no report under the message."""

from __future__ import annotations

import json
import time
from pathlib import Path

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
from tests.runs.records import save_agent, wait_final
from tests.servers.slack import BOT_USER, SlackEmulator


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path, database_url=database_url,
                         runs_executor="tests.accounts.chat_assistant_agent:build")  # fmt: skip


def runs_of_message(context: AppContext, ts: str, timeout: float = 30) -> dict[int, Run]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with context.db.session() as session:
            found = {run.agent_id: run for run in session.scalars(select(Run))
                     if (run.trigger_detail.get("fields") or {}).get("ts") == ts}  # fmt: skip
        if len(found) == 2:
            return found
        time.sleep(0.1)
    raise AssertionError(f"the message {ts} did not start two runs")


def dm_texts(emulator: SlackEmulator) -> list[str]:
    ana = emulator.person("ana")
    channel = ana.conversations_open(users=BOT_USER)["channel"]["id"]
    return [str(m.get("text", "")) for m in ana.conversations_history(channel=channel, limit=50)["messages"]]


def test_only_the_assistant_answers_a_question_that_also_started_deploy_on_request(
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
    for run in runs.values():
        assert wait_final(context, run.id, timeout=60) == "succeeded"
    assert (
        answer_to(slack_emulator, question)["text"] == "The answer is 42."
    )  # and nothing else in the thread
    with context.db.session() as session:
        report = session.get(Run, runs[deployer_id].id)
        assert report is not None and json.loads(report.output or "{}")["reason"] == "not a deploy request"
    assert not any(text.startswith(":no_entry:") for text in dm_texts(slack_emulator))

    # A deploy request it may not carry out: the owner is told why in the DM; no report in the thread.
    request = dm(slack_emulator, app_client, "ana", "deploy web 1.4.2 to production")
    runs = runs_of_message(context, request["ts"])
    for run in runs.values():
        assert wait_final(context, run.id, timeout=60) == "succeeded"
    assert not answer_to(slack_emulator, request)["text"].startswith("{")  # the assistant's, not a report
    assert any("'production' is not an environment I deploy" in text for text in dm_texts(slack_emulator))
    assert set(runs) == {helper_id, deployer_id}
