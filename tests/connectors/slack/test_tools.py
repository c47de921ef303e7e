"""Every Slack tool against the emulator, through the real slack_sdk, as the bot with its minimal scopes."""

from __future__ import annotations

import uuid

import pytest
from pydantic import SecretStr

from meshclaw.tools.registry import ToolError
from tests.connectors.slack.conftest import account, call
from tests.servers.slack import BOT_USER, POST_ONLY_TOKEN, SlackEmulator


def unique(text: str) -> str:
    return f"{text} [{uuid.uuid4().hex[:8]}]"


def test_list_channels_shows_what_the_bot_can_see(slack_emulator: SlackEmulator) -> None:
    result = call(account(slack_emulator.api_url), "slack_list_channels")
    by_name = {c["name"]: c for c in result["channels"]}
    assert {"general", "deploys"} <= set(by_name)
    assert by_name["deploys"]["member"] is True
    assert by_name["deploys"]["topic"] == "Deploy notices"
    assert "secret-plans" not in by_name  # private, and the bot was never invited
    members = call(account(slack_emulator.api_url), "slack_list_channels", member_only=True)["channels"]
    assert all(c["member"] for c in members)


def test_read_history_returns_others_messages_newest_first(slack_emulator: SlackEmulator) -> None:
    bob = slack_emulator.person("bob")
    channel = slack_emulator.channel_id("deploys")
    first, second = unique("deploy started"), unique("deploy finished")
    bob.chat_postMessage(channel=channel, text=first)
    bob.chat_postMessage(channel=channel, text=second)

    result = call(account(slack_emulator.api_url), "slack_read_channel_history", channel="#deploys", limit=2)

    assert result["channel"] == channel
    assert [m["text"] for m in result["messages"]] == [second, first]
    assert result["messages"][0]["user"] == slack_emulator.user_id("bob")


def test_read_history_only_after_oldest(slack_emulator: SlackEmulator) -> None:
    bob = slack_emulator.person("bob")
    channel = slack_emulator.channel_id("deploys")
    before = bob.chat_postMessage(channel=channel, text=unique("old"))
    after = unique("new")
    bob.chat_postMessage(channel=channel, text=after)
    result = call(
        account(slack_emulator.api_url), "slack_read_channel_history", channel=channel, oldest=before["ts"]
    )
    assert [m["text"] for m in result["messages"]] == [after]


def test_read_thread_replies(slack_emulator: SlackEmulator) -> None:
    bob = slack_emulator.person("bob")
    channel = slack_emulator.channel_id("general")
    parent = bob.chat_postMessage(channel=channel, text=unique("is prod down?"))
    bob.chat_postMessage(channel=channel, text="the API times out", thread_ts=parent["ts"])

    result = call(
        account(slack_emulator.api_url),
        "slack_read_thread_replies",
        channel="general",
        thread_ts=parent["ts"],
    )

    assert [m["text"] for m in result["messages"]] == [parent["message"]["text"], "the API times out"]
    assert result["messages"][0]["reply_count"] == 1
    assert result["messages"][1]["thread_ts"] == parent["ts"]


def test_read_direct_messages_to_the_bot(slack_emulator: SlackEmulator) -> None:
    bob = slack_emulator.person("bob")
    text = unique("can you restart the worker?")
    bob.chat_postMessage(channel=BOT_USER, text=text)  # a DM to the bot
    bob_id = slack_emulator.user_id("bob")

    result = call(account(slack_emulator.api_url), "slack_read_direct_messages", user=bob_id)

    [conversation] = result["conversations"]
    assert conversation["with_user"] == bob_id
    assert conversation["channel"].startswith("D")
    assert conversation["messages"][0]["text"] == text
    everyone = call(account(slack_emulator.api_url), "slack_read_direct_messages")["conversations"]
    assert conversation["channel"] in {c["channel"] for c in everyone}


def test_read_mentions_finds_messages_naming_the_bot(slack_emulator: SlackEmulator) -> None:
    bob = slack_emulator.person("bob")
    mention = unique(f"<@{BOT_USER}> please roll back api")
    posted = bob.chat_postMessage(channel=slack_emulator.channel_id("deploys"), text=mention)
    bob.chat_postMessage(channel=slack_emulator.channel_id("general"), text=unique("no mention here"))

    result = call(
        account(slack_emulator.api_url), "slack_read_bot_mentions", oldest=str(float(posted["ts"]) - 0.000001)
    )

    assert result["bot_user"] == BOT_USER
    assert [m["text"] for m in result["mentions"]] == [mention]
    assert result["mentions"][0]["channel"] == slack_emulator.channel_id("deploys")


def test_post_message_and_reply_in_thread(slack_emulator: SlackEmulator) -> None:
    slack = account(slack_emulator.api_url)
    text = unique("release 1.4 is out")
    posted = call(slack, "slack_post_message", channel="deploys", text=text)
    reply = call(
        slack, "slack_reply_thread", channel="deploys", thread_ts=posted["ts"], text="changelog: fixes"
    )

    ana = slack_emulator.person("ana")
    thread = ana.conversations_replies(channel=posted["channel"], ts=posted["ts"])["messages"]
    assert [(m["user"], m["text"]) for m in thread] == [(BOT_USER, text), (BOT_USER, "changelog: fixes")]
    assert reply["thread_ts"] == posted["ts"] and reply["already_posted"] is False


def test_a_repeated_post_with_the_same_key_posts_once(slack_emulator: SlackEmulator) -> None:
    """A run repeats a call cut off by a crash with the same idempotency key: the message is found, not
    posted again. A different key (another call) posts."""
    slack = account(slack_emulator.api_url)
    text = unique("deploying api to prod")
    first = call(slack, "slack_post_message", key="run-7:3", channel="deploys", text=text)
    again = call(slack, "slack_post_message", key="run-7:3", channel="deploys", text=text)
    other = call(slack, "slack_post_message", key="run-7:4", channel="deploys", text=text)

    assert again == {**first, "already_posted": True}
    assert other["ts"] != first["ts"]
    history = slack_emulator.person("ana").conversations_history(channel=first["channel"], limit=50)[
        "messages"
    ]
    assert [m["text"] for m in history].count(text) == 2


def test_a_repeated_reply_with_the_same_key_replies_once(slack_emulator: SlackEmulator) -> None:
    slack = account(slack_emulator.api_url)
    parent = call(slack, "slack_post_message", channel="general", text=unique("incident 42"))
    for _ in range(2):
        call(
            slack, "slack_reply_thread", key="run-9:1", channel="general", thread_ts=parent["ts"], text="ack"
        )
    thread = slack_emulator.person("ana").conversations_replies(channel=parent["channel"], ts=parent["ts"])
    assert [m["text"] for m in thread["messages"]] == [thread["messages"][0]["text"], "ack"]


def test_add_reaction_once(slack_emulator: SlackEmulator) -> None:
    channel = slack_emulator.channel_id("general")
    posted = slack_emulator.person("bob").chat_postMessage(channel=channel, text=unique("deploy done"))
    slack = account(slack_emulator.api_url)

    first = call(
        slack, "slack_add_reaction", channel="general", timestamp=posted["ts"], name=":white_check_mark:"
    )
    again = call(
        slack, "slack_add_reaction", channel="general", timestamp=posted["ts"], name="white_check_mark"
    )

    assert (first["added"], again["added"]) == (True, False)
    [message] = slack_emulator.person("ana").conversations_replies(channel=channel, ts=posted["ts"])[
        "messages"
    ]
    assert message["reactions"] == [{"name": "white_check_mark", "users": [BOT_USER], "count": 1}]


def test_unknown_channel_name_is_a_clear_error(slack_emulator: SlackEmulator) -> None:
    with pytest.raises(ToolError, match="no Slack channel named 'nope'"):
        call(account(slack_emulator.api_url), "slack_post_message", channel="#nope", text="x")


def test_unknown_channel_id_is_a_clear_error(slack_emulator: SlackEmulator) -> None:
    with pytest.raises(ToolError, match="found no channel"):
        call(account(slack_emulator.api_url), "slack_read_channel_history", channel="C0NOTHERE9")


def test_private_channel_the_bot_is_not_in(slack_emulator: SlackEmulator) -> None:
    secret = slack_emulator.person("ana").conversations_list(types="private_channel")["channels"]
    [channel] = [c["id"] for c in secret if c["name"] == "secret-plans"]
    with pytest.raises(ToolError, match="not in that channel"):
        call(account(slack_emulator.api_url), "slack_read_channel_history", channel=channel)


def test_a_missing_scope_names_the_scope(slack_emulator: SlackEmulator) -> None:
    slack = account(slack_emulator.api_url, bot_token=SecretStr(POST_ONLY_TOKEN))
    with pytest.raises(ToolError, match="lacks the scope channels:history") as caught:
        call(slack, "slack_read_channel_history", channel=slack_emulator.channel_id("general"))
    assert POST_ONLY_TOKEN not in str(caught.value)


def test_bad_arguments_are_refused_before_any_call(slack_emulator: SlackEmulator) -> None:
    with pytest.raises(ValueError, match="extra"):
        call(account(slack_emulator.api_url), "slack_post_message", channel="general", text="x", as_user=True)
    with pytest.raises(ValueError, match="string_too_short"):
        call(account(slack_emulator.api_url), "slack_post_message", channel="general", text="")


def test_unicode_survives_the_round_trip(slack_emulator: SlackEmulator) -> None:
    slack = account(slack_emulator.api_url)
    text = unique("déploiement ✅ 完了 \U0001f680 <not a link> & co")
    posted = call(slack, "slack_post_message", channel="deploys", text=text)
    history = call(slack, "slack_read_channel_history", channel="deploys", limit=5)["messages"]
    assert any(m["ts"] == posted["ts"] and m["text"] == text for m in history)
