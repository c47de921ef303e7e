"""Approvals in Slack: the prompt lands in the owner's DM with the bot, shows the exact call, and its
buttons come back as the owner's answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from meshclaw.connectors.catalog import load
from meshclaw.connectors.contract import ApprovalPrompt
from meshclaw.tools.registry import ToolError
from tests.connectors.slack.conftest import ACCOUNT, account, run, signed_request
from tests.servers.slack import BOT_USER, SlackEmulator

ARGS = json.dumps(
    {
        "account": "work-slack",
        "channel": "general",
        "text": "Ship it <https://evil.example|click here> <@U0MESHBOT1> <!channel> *bold* ```x``` & done",
        "long": "y" * 4000,
    },
    indent=2,
)


def prompt(approval_id: str = "ap-42") -> ApprovalPrompt:
    return ApprovalPrompt(
        approval_id=approval_id,
        agent_name="release-bot",
        tool_name="slack_post_message",
        effect="communicate_external",
        args_text=ARGS,
        reason="communicate_external after reading untrusted content",
        expires_at=datetime(2026, 12, 2, 9, 30, tzinfo=UTC),
        url="https://meshclaw.example/approvals/ap-42?x=1&y=<2>",
    )


def owners_dm(emulator: SlackEmulator) -> list[dict[str, Any]]:
    ana = emulator.person("ana")
    channel = ana.conversations_open(users=BOT_USER)["channel"]["id"]
    return list(ana.conversations_history(channel=channel, limit=10)["messages"])


def test_the_prompt_shows_the_exact_call_in_the_owners_dm(slack_emulator: SlackEmulator) -> None:
    ask = load("slack").ask_approval
    assert ask is not None
    slack = account(slack_emulator.api_url, owner_slack_user=slack_emulator.user_id("ana"))

    message_id = run(ask(slack, prompt()))

    [latest, *_] = owners_dm(slack_emulator)
    assert message_id == f"{message_id.split(':')[0]}:{latest['ts']}" and message_id.startswith("D")
    assert latest["user"] == BOT_USER
    blocks = {block["type"]: block for block in latest["blocks"]}
    shown = "".join(e["text"] for e in blocks["rich_text"]["elements"][0]["elements"])
    assert shown == ARGS  # verbatim, in literal text elements: no link, mention or formatting is parsed
    assert all(len(e["text"]) <= 3000 for e in blocks["rich_text"]["elements"][0]["elements"])
    assert blocks["header"]["text"] == {
        "type": "plain_text",
        "text": "Approve slack_post_message?",
        "emoji": False,
    }
    sections = [block for block in latest["blocks"] if block["type"] == "section"]
    assert [f["text"] for f in sections[0]["fields"]] == [
        "Agent: release-bot",
        "Tool: slack_post_message",
        "Effect: communicate_external",
        "Expires: 2026-12-02 09:30 UTC",
    ]
    assert sections[1]["text"]["text"] == "Why it waits: communicate_external after reading untrusted content"
    link = blocks["context"]["elements"][0]["text"]
    assert (
        link == "<https://meshclaw.example/approvals/ap-42?x=1&amp;y=&lt;2&gt;|Open the approval in MeshClaw>"
    )
    buttons = blocks["actions"]["elements"]
    assert [(b["action_id"], b["value"], b["style"]) for b in buttons] == [
        ("meshclaw_approve", "ap-42", "primary"),
        ("meshclaw_deny", "ap-42", "danger"),
    ]


def test_the_owners_click_comes_back_as_their_answer(slack_emulator: SlackEmulator) -> None:
    ana = slack_emulator.user_id("ana")
    slack = account(slack_emulator.api_url, owner_slack_user=ana)
    ask, handler = load("slack").ask_approval, load("slack").inbound
    assert ask is not None and handler is not None
    run(ask(slack, prompt("ap-77")))
    [latest, *_] = owners_dm(slack_emulator)
    deny = next(
        b
        for block in latest["blocks"]
        if block["type"] == "actions"
        for b in block["elements"]
        if b["action_id"] == "meshclaw_deny"
    )

    # What Slack sends when ana clicks Deny on that very message.
    payload = {
        "type": "block_actions",
        "user": {"id": ana, "username": "ana", "team_id": "T000000001"},
        "container": {"type": "message", "message_ts": latest["ts"], "channel_id": "D0"},
        "actions": [{**deny, "block_id": "meshclaw_approval:ap-77", "action_ts": "1.2"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    reply = run(handler(slack, signed_request(body, content_type="application/x-www-form-urlencoded")))

    [answer] = reply.answers
    assert (answer.approval_id, answer.approved, answer.external_user, answer.account) == (
        "ap-77",
        False,
        ana,
        ACCOUNT,
    )


def test_announcing_an_approval_again_posts_nothing_new(slack_emulator: SlackEmulator) -> None:
    ask = load("slack").ask_approval
    assert ask is not None
    slack = account(slack_emulator.api_url, owner_slack_user=slack_emulator.user_id("ana"))
    first = run(ask(slack, prompt("ap-once")))
    again = run(ask(slack, prompt("ap-once")))
    other = run(ask(slack, prompt("ap-other")))
    assert again == first and other != first
    values = [
        b["value"]
        for m in owners_dm(slack_emulator)
        for block in m.get("blocks", [])
        if block["type"] == "actions"
        for b in block["elements"][:1]
    ]
    assert (values.count("ap-once"), values.count("ap-other")) == (1, 1)


def test_without_an_owner_there_is_no_dm_to_ask_in(slack_emulator: SlackEmulator) -> None:
    ask = load("slack").ask_approval
    assert ask is not None
    with pytest.raises(ToolError, match="no owner_slack_user"):
        run(ask(account(slack_emulator.api_url), prompt()))
