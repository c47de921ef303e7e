"""slack_notify_owner: the owner's DM with the bot is the only place it can write (it has no destination
argument), a reply can go under a message there, a repeated call posts once, and an account without an
owner is an error the model can read."""

from __future__ import annotations

import uuid

import pytest

from meshclaw.connectors.catalog import load
from meshclaw.connectors.contract import StaticAccounts
from meshclaw.tools.registry import ToolError
from tests.connectors.slack.conftest import account, call
from tests.servers.slack import BOT_USER, SlackEmulator


def test_it_has_no_argument_that_could_name_someone_else() -> None:
    (tool,) = [t for t in load("slack").tools(StaticAccounts()) if t.name == "slack_notify_owner"]
    assert set(tool.args.model_json_schema()["properties"]) == {"account", "text", "thread"}
    with pytest.raises(ValueError, match="extra"):
        tool.args.model_validate({"account": "work-slack", "text": "hi", "channel": "general"})


def test_it_writes_to_the_owners_dm_in_a_thread_once(slack_emulator: SlackEmulator) -> None:
    ana = slack_emulator.person("ana")
    slack = account(slack_emulator.api_url, owner_slack_user=slack_emulator.user_id("ana"))
    dm = ana.conversations_open(users=BOT_USER)["channel"]["id"]
    question = ana.chat_postMessage(channel=dm, text=f"what is on today? [{uuid.uuid4().hex[:8]}]")
    key = f"notify-{uuid.uuid4().hex}"

    first = call(slack, "slack_notify_owner", key=key, text="Two meetings.", thread=question["ts"])
    again = call(slack, "slack_notify_owner", key=key, text="Two meetings.", thread=question["ts"])

    assert first["channel"] == dm and not first["already_posted"]
    assert again["already_posted"] and again["ts"] == first["ts"]
    replies = ana.conversations_replies(channel=dm, ts=question["ts"])["messages"]
    assert [m["text"] for m in replies[1:]] == ["Two meetings."]

    note = call(slack, "slack_notify_owner", text="Digest ready.")
    assert note["channel"] == dm
    newest = ana.conversations_history(channel=dm, limit=1)["messages"][0]
    assert newest["ts"] == note["ts"] and newest["text"] == "Digest ready."


def test_an_account_without_an_owner_says_so(slack_emulator: SlackEmulator) -> None:
    with pytest.raises(ToolError, match="no owner_slack_user"):
        call(account(slack_emulator.api_url), "slack_notify_owner", text="hello")
