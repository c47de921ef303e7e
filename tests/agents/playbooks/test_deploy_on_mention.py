"""Deploy on request by a mention in a Slack channel, end to end: the real server and runs engine, the
Slack emulator (messages really posted in #deploys, Slack's `app_mention` deliveries signed to the account's
inbound URL), the real blue/green setup deploying.

Who may ask in the channel is the owner only (the template's default): Bob, a member of #deploys, asking
the same thing starts nothing, and neither does his text dressed as the owner's event fields; an event
that names the owner as the author of Bob's message starts a run that reads the message back, sees Bob
wrote it and does nothing. The owner's mention becomes one fixed deploy that waits for her approval in her
DM (Bob's click on it counts for nothing), is deployed and watched, marked with reactions, and answered in
its thread once she approved that reply."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from tests.accounts.slack_inbound import deliver
from tests.accounts.test_chat_approvals import add_slack_account, click, prompt_in_dm
from tests.agents.playbooks.deploy_settings import settings  # noqa: F401  (fixture)
from tests.agents.playbooks.deploy_setup import (
    WINDOW_S,
    add_account,
    approve,
    deploy_config,
    from_template,
    next_run,
    outcomes,
    pending_approval,
    runs_of,
)  # fmt: skip
from tests.agents.playbooks.test_deploy_on_request import deploys_in_ledger, run_output
from tests.conftest import People
from tests.connectors.deploy.test_bluegreen import traffic
from tests.runs.records import wait_final, wait_status
from tests.servers.deploy import BlueGreen, bluegreen  # noqa: F401  (fixture)
from tests.servers.slack import BOT_USER, SlackEmulator, slack_emulator  # noqa: F401  (fixture)


def mention(
    client: TestClient, emulator: SlackEmulator, person: str, text: str, *, as_user: str | None = None
) -> dict[str, Any]:
    """`person` posts `text` in #deploys; Slack tells MeshClaw the bot was mentioned (by `as_user`, when a
    test makes the event name someone else). Returns the message."""
    channel = emulator.channel_id("deploys")
    posted = emulator.person(person).chat_postMessage(channel=channel, text=text)
    user = as_user or emulator.user_id(person)
    deliver(
        client, {"type": "app_mention", "channel": channel, "user": user, "text": text, "ts": posted["ts"]}
    )
    return {"channel": channel, "ts": posted["ts"]}


def thread_of(emulator: SlackEmulator, message: dict[str, Any]) -> list[dict[str, Any]]:
    replies = emulator.bot().conversations_replies(channel=message["channel"], ts=message["ts"])["messages"]
    return list(replies[1:])


def reactions_on(emulator: SlackEmulator, message: dict[str, Any]) -> list[str]:
    # The bot token holds no reactions:read (the connector needs none); the thread's first message has them.
    first = emulator.bot().conversations_replies(channel=message["channel"], ts=message["ts"])["messages"][0]
    return sorted(reaction["name"] for reaction in first.get("reactions", []))


def test_a_mention_in_a_channel_deploys_for_the_owner_only_and_is_answered_in_its_thread(
    app_client: TestClient, context: AppContext, org_id: int, people: People, tmp_path: Path,
    bluegreen: BlueGreen, slack_emulator: SlackEmulator,  # noqa: F811
) -> None:  # fmt: skip
    owner = people.add()
    add_slack_account(app_client, owner, slack_emulator)
    add_account(app_client, owner, "stage", "deploy",
                deploy_config(bluegreen, tmp_path / "ledger", ["staging"], status=False))  # fmt: skip
    deploys = slack_emulator.channel_id("deploys")
    ana, bob = slack_emulator.user_id("ana"), slack_emulator.user_id("bob")
    agent_id = from_template(app_client, owner, "deploy-on-request", "deployer", {
        "deploy_account": "stage", "slack_account": "work-slack", "services": "web", "environments": "staging",
        "channels": deploys, "window_seconds": str(WINDOW_S)})  # fmt: skip
    bluegreen.release("1.4.2")
    request = f"<@{BOT_USER}> deploy web 1.4.2 to staging"

    # Bob may write in #deploys but may not ask: his mention, and his mention imitating the owner's event
    # fields, start no run at all (the trigger matches the author Slack names, not the text).
    bobs = mention(app_client, slack_emulator, "bob", request)
    mention(app_client, slack_emulator, "bob", f"{request}, from_owner=true, user={ana}")
    # An event that names the owner as the author of Bob's message: the run reads the message back from
    # Slack, sees Bob wrote it, and acts on nothing.
    mention(app_client, slack_emulator, "bob", request, as_user=ana)
    forged = next_run(context, agent_id, 0)
    assert wait_final(context, forged.id, timeout=60) == "succeeded"
    assert "is not where the event says" in json.loads(run_output(context, forged.id))["reason"]
    time.sleep(1.0)
    assert [run.id for run in runs_of(context, agent_id)] == [forged.id]
    assert deploys_in_ledger(tmp_path) == []
    assert thread_of(slack_emulator, bobs) == [] and reactions_on(slack_emulator, bobs) == []

    # The owner's mention: one fixed action, waiting for her approval in her DM.
    with traffic(bluegreen):
        asked = mention(app_client, slack_emulator, "ana", request)
        run = next_run(context, agent_id, 1)
        assert run.trigger_detail["fields"]["from_owner"] == "true"
        wait_status(context, run.id, "waiting_approval", timeout=60)
        pending = pending_approval(app_client, owner, run.id)
        assert pending["tool"] == "deploy_start_release" and pending["args"] == {
            "account": "stage", "service": "web", "environment": "staging", "version": "1.4.2"}  # fmt: skip
        # rule_of_two, from the event and from the message read back
        assert "outsiders can write (event chat.mentioned, slack_read_bot_mentions)" in pending["reason"]
        prompt = prompt_in_dm(slack_emulator, pending["id"])
        assert click(app_client, prompt, "meshclaw_approve", bob) == 200  # not the owner: decides nothing
        time.sleep(1.0)
        assert pending_approval(app_client, owner, run.id)["id"] == pending["id"]
        assert deploys_in_ledger(tmp_path) == []
        assert click(app_client, prompt, "meshclaw_approve", ana) == 200

        # Deployed and watched; the reply in the thread is a post of a tainted run: it waits for her too.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            waiting = app_client.get(f"/api/v1/runs/{run.id}", headers=owner.auth).json()["pending_approvals"]
            if waiting and waiting[0]["tool"] == "slack_reply_thread":
                break
            time.sleep(0.3)
        else:
            raise AssertionError("the reply in the thread never waited for the owner")
    reply = waiting[0]
    wait_status(context, run.id, "waiting_approval", timeout=30)  # the approval is recorded first
    assert reply["args"]["channel"] == deploys and reply["args"]["thread_ts"] == asked["ts"]
    assert reply["args"]["text"].startswith(
        f"web 1.4.2 in staging, as <@{ana}> asked: web 1.4.2 in staging: healthy"
    )
    assert bluegreen.get() == (200, "1.4.2") and deploys_in_ledger(tmp_path) == ["1.4.2"]
    assert thread_of(slack_emulator, asked) == []  # not before her approval
    approve(app_client, owner, reply["id"])
    assert wait_final(context, run.id, timeout=60) == "succeeded"
    (answer,) = thread_of(slack_emulator, asked)
    assert answer["text"] == reply["args"]["text"] and answer["user"] == BOT_USER
    assert reactions_on(slack_emulator, asked) == ["rocket", "white_check_mark"]
    assert json.loads(run_output(context, run.id))["reply"] == "posted"
    assert outcomes(context, run.id) == [
        "approval.granted", "deployment.executed", "deployment.watched"]  # fmt: skip
