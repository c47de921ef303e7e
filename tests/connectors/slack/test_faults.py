"""Faults the emulator cannot produce, made by the suite's front server (tests/servers/slack_socket.py)
while state stays in the emulator: rate limits, a refused token, a server that never answers, a post whose
answer is lost, and no server at all."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from meshclaw.tools.registry import ToolError
from tests.connectors.slack.conftest import account, call, run
from tests.servers.slack import BOT_TOKEN, SlackEmulator
from tests.servers.slack_socket import Fault, SlackFront, rate_limited, refused


def unique(text: str) -> str:
    return f"{text} [{uuid.uuid4().hex[:8]}]"


def texts(emulator: SlackEmulator, channel: str) -> list[str]:
    history = emulator.person("ana").conversations_history(channel=emulator.channel_id(channel), limit=100)
    return [m["text"] for m in history["messages"]]


def test_a_rate_limited_read_is_retried_after_retry_after(slack_front: SlackFront) -> None:
    slack_front.plan("conversations.history", rate_limited(1))
    started = time.monotonic()
    result = call(account(slack_front.api_url), "slack_read_channel_history", channel="C000000001")
    assert time.monotonic() - started >= 1  # waited as Slack asked
    assert slack_front.count("conversations.history") == 2
    assert isinstance(result["messages"], list)


def test_a_long_retry_after_fails_at_once_saying_when(slack_front: SlackFront) -> None:
    slack_front.plan("conversations.history", rate_limited(120))
    started = time.monotonic()
    with pytest.raises(ToolError, match=r"rate limiting conversations.history .* try again in 120 s"):
        call(account(slack_front.api_url), "slack_read_channel_history", channel="C000000001")
    assert time.monotonic() - started < 5
    assert slack_front.count("conversations.history") == 1


def test_rate_limits_that_persist_end_in_a_clear_error(slack_front: SlackFront) -> None:
    slack_front.plan("conversations.list", rate_limited(0), rate_limited(0), rate_limited(0), rate_limited(0))
    with pytest.raises(ToolError, match=r"rate limiting conversations\.list"):
        call(account(slack_front.api_url), "slack_list_channels")
    assert slack_front.count("conversations.list") == 3  # the first try and two retries, no more


def test_a_rate_limited_post_is_posted_exactly_once(
    slack_front: SlackFront, slack_emulator: SlackEmulator
) -> None:
    """A 429 means Slack did not post; the retry posts, once."""
    slack_front.plan("chat.postMessage", rate_limited(0))
    text = unique("rate limited announcement")
    call(account(slack_front.api_url), "slack_post_message", key="run-rl:1", channel="C000000001", text=text)
    assert slack_front.count("chat.postMessage") == 2
    assert texts(slack_emulator, "general").count(text) == 1


def test_a_post_whose_answer_was_lost_is_not_posted_again(
    slack_front: SlackFront, slack_emulator: SlackEmulator
) -> None:
    """The post reaches Slack but its answer never comes back (a cut connection): the tool times out and
    does not retry; the run's repeat of the call, with the same key, finds the message instead of posting."""
    slack_front.plan("chat.postMessage", Fault(lose_answer=True))
    slack = account(slack_front.api_url, timeout_seconds=1, max_retry_after_seconds=0)
    text = unique("deploy started")
    with pytest.raises(ToolError, match=r"did not answer chat\.postMessage within 1 s"):
        call(slack, "slack_post_message", key="run-cut:5", channel="C000000001", text=text)
    assert texts(slack_emulator, "general").count(text) == 1  # it did post

    again = call(slack, "slack_post_message", key="run-cut:5", channel="C000000001", text=text)

    assert again["already_posted"] is True
    assert slack_front.count("chat.postMessage") == 1
    assert texts(slack_emulator, "general").count(text) == 1


def test_a_read_cut_off_mid_call_is_retried_once(slack_front: SlackFront) -> None:
    slack_front.plan("conversations.list", Fault(cut=True))
    result = call(account(slack_front.api_url), "slack_list_channels")
    assert "general" in {c["name"] for c in result["channels"]}
    assert slack_front.count("conversations.list") == 2


def test_a_post_cut_off_mid_call_is_not_retried(
    slack_front: SlackFront, slack_emulator: SlackEmulator
) -> None:
    """A cut connection may have posted: the tool fails and leaves the repeat to the run (with its key)."""
    slack_front.plan("chat.postMessage", Fault(cut=True))
    text = unique("cut post")
    with pytest.raises(ToolError, match=r"could not reach Slack .* for chat\.postMessage"):
        call(
            account(slack_front.api_url),
            "slack_post_message",
            key="run-cut2:1",
            channel="C000000001",
            text=text,
        )
    assert slack_front.count("chat.postMessage") == 1
    call(
        account(slack_front.api_url), "slack_post_message", key="run-cut2:1", channel="C000000001", text=text
    )
    assert texts(slack_emulator, "general").count(text) == 1


def test_a_server_error_on_a_read_is_retried_once_then_reported(slack_front: SlackFront) -> None:
    unavailable = Fault(status=503, body={"ok": False, "error": "service_unavailable"})
    slack_front.plan("conversations.list", unavailable)
    assert call(account(slack_front.api_url), "slack_list_channels")["channels"]
    assert slack_front.count("conversations.list") == 2
    slack_front.plan("conversations.list", unavailable, unavailable)
    with pytest.raises(ToolError, match=r"answered conversations\.list with HTTP 503 .* try again later"):
        call(account(slack_front.api_url), "slack_list_channels")


def test_a_server_error_on_a_post_is_not_retried(slack_front: SlackFront) -> None:
    slack_front.plan("chat.postMessage", Fault(status=500, body={"ok": False, "error": "internal_error"}))
    with pytest.raises(ToolError, match="HTTP 500"):
        call(account(slack_front.api_url), "slack_post_message", channel="C000000001", text=unique("x"))
    assert slack_front.count("chat.postMessage") == 1


def test_a_refused_token_is_a_clear_error_without_the_token(slack_front: SlackFront) -> None:
    """emulate accepts any token, so the front answers as Slack does for a revoked one."""
    slack_front.plan("conversations.list", refused("invalid_auth"))
    with pytest.raises(
        ToolError, match="refused the bot token of account 'work-slack' \\(invalid_auth\\)"
    ) as caught:
        call(account(slack_front.api_url), "slack_list_channels")
    assert BOT_TOKEN not in str(caught.value)


def test_check_fails_on_a_refused_token_and_describes_a_good_one(slack_front: SlackFront) -> None:
    from meshclaw.connectors.catalog import load

    check = load("slack").check
    assert run(check(account(slack_front.api_url))) == "bot meshclaw (U0MESHBOT1) in workspace MeshClaw Test"
    slack_front.plan("auth.test", refused("token_revoked"))
    with pytest.raises(ToolError, match="token_revoked"):
        run(check(account(slack_front.api_url)))


def test_a_server_that_never_answers_times_out(slack_front: SlackFront) -> None:
    slack_front.plan("conversations.history", Fault(hang=True))
    slack = account(slack_front.api_url, timeout_seconds=1)
    started = time.monotonic()
    with pytest.raises(ToolError, match=r"did not answer conversations\.history within 1 s"):
        call(slack, "slack_read_channel_history", channel="C000000001")
    assert time.monotonic() - started < 10


def test_no_server_at_all_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the block ends: nothing listens there
    with pytest.raises(ToolError, match=r"could not reach Slack at http://127\.0\.0\.1"):
        call(account(f"http://127.0.0.1:{port}/api/"), "slack_list_channels")
