"""The Socket Mode event source against the suite's Socket Mode endpoint (tests/servers/slack_socket.py):
every envelope acknowledged, events and button clicks delivered once, reconnecting when the socket
drops or Slack asks for a refresh."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from pydantic import SecretStr
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

from meshclaw.connectors.catalog import load
from tests.connectors.slack.conftest import ACCOUNT, RecordingSink, account, running
from tests.servers.slack import BOT_TOKEN, BOT_USER, SlackEmulator
from tests.servers.slack_socket import APP_TOKEN, SlackFront


def mention(event_id: str, ts: str = "1700000000.000100", user: str = "U0BOB") -> dict[str, Any]:
    return {
        "type": "event_callback",
        "team_id": "T000000001",
        "event_id": event_id,
        "event_time": 1700000000,
        "event": {
            "type": "app_mention",
            "user": user,
            "text": f"<@{BOT_USER}> status?",
            "ts": ts,
            "channel": "C000000001",
        },
    }


def source() -> Any:
    [spec] = load("slack").events
    return spec


def test_events_are_acknowledged_and_emitted_once(slack_front: SlackFront) -> None:
    with running(source(), account(slack_front.api_url)) as sink:
        slack_front.wait_connected()
        ack = slack_front.push("events_api", mention("Ev0SOCKET1"))
        assert set(ack) == {"envelope_id"}
        sink.wait_for("events", 1)
        # Slack redelivers an event (retry_attempt 1): acknowledged again, not emitted again.
        slack_front.push("events_api", mention("Ev0SOCKET1"))
        slack_front.push("events_api", mention("Ev0SOCKET2", ts="1700000001.000200"))
        sink.wait_for("events", 2)
        time.sleep(0.2)
    assert [(e.type, e.key) for e in sink.events] == [
        ("chat.mentioned", "Ev0SOCKET1"),
        ("chat.mentioned", "Ev0SOCKET2"),
    ]
    assert sink.events[0].fields == {
        "account": ACCOUNT,
        "channel": "C000000001",
        "user": "U0BOB",
        "ts": "1700000000.000100",
        "text": f"<@{BOT_USER}> status?",
    }
    assert len(slack_front.acks) == 3


def test_an_event_the_platform_could_not_take_is_left_for_slack_to_redeliver(slack_front: SlackFront) -> None:
    with running(source(), account(slack_front.api_url), RecordingSink(failures_left=1)) as sink:
        slack_front.wait_connected()
        with pytest.raises(TimeoutError):
            slack_front.push("events_api", mention("Ev0RETRY"), timeout=1)  # no ack
        assert sink.events == []
        slack_front.push("events_api", mention("Ev0RETRY"))  # Slack delivers it again
        sink.wait_for("events", 1)
    assert [e.key for e in sink.events] == ["Ev0RETRY"]


def test_a_button_click_arrives_as_an_answer(slack_front: SlackFront) -> None:
    click = {
        "type": "block_actions",
        "user": {"id": "U0ANA"},
        "actions": [{"action_id": "meshclaw_approve", "value": "ap-9", "type": "button"}],
    }
    with running(source(), account(slack_front.api_url)) as sink:
        slack_front.wait_connected()
        slack_front.push("interactive", click)
        sink.wait_for("answers", 1)
    [answer] = sink.answers
    assert (answer.approval_id, answer.approved, answer.external_user) == ("ap-9", True, "U0ANA")
    assert sink.events == []


def test_it_reconnects_when_the_socket_drops(slack_front: SlackFront) -> None:
    with running(source(), account(slack_front.api_url)) as sink:
        slack_front.wait_connected(opens=1)
        slack_front.drop()
        slack_front.wait_connected(opens=2, timeout=20)
        slack_front.push("events_api", mention("Ev0AFTERDROP"))
        sink.wait_for("events", 1)
    assert [e.key for e in sink.events] == ["Ev0AFTERDROP"]


def test_it_reconnects_when_slack_asks_for_a_refresh(slack_front: SlackFront) -> None:
    with running(source(), account(slack_front.api_url)) as sink:
        slack_front.wait_connected(opens=1)
        slack_front.send_raw(
            {"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "t"}}
        )
        slack_front.wait_connected(opens=2, timeout=20)
        slack_front.push("events_api", mention("Ev0AFTERREFRESH"))
        sink.wait_for("events", 1)
    assert [e.key for e in sink.events] == ["Ev0AFTERREFRESH"]


def test_a_refused_app_token_keeps_trying_and_stops_when_asked(slack_front: SlackFront) -> None:
    slack = account(slack_front.api_url, app_token=SecretStr("xapp-wrong"))
    with running(source(), slack) as sink:
        deadline = time.monotonic() + 10
        while slack_front.count("apps.connections.open") < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert slack_front.count("apps.connections.open") >= 1
    assert slack_front.opens == 0 and sink.events == []


def test_the_endpoint_speaks_socket_mode_as_slack_bolt_expects(
    slack_front: SlackFront, slack_emulator: SlackEmulator
) -> None:
    """The suite's endpoint is checked against an independent client, slack_bolt's SocketModeHandler:
    it connects, acknowledges, and its listener posts a reply through the emulator."""
    app = App(client=WebClient(token=BOT_TOKEN, base_url=slack_emulator.api_url))
    replied = threading.Event()
    channel = slack_emulator.channel_id("general")

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], say: Any) -> None:
        say(text="bolt heard it", thread_ts=event["ts"])
        replied.set()

    handler = SocketModeHandler(app, app_token=APP_TOKEN, web_client=WebClient(base_url=slack_front.api_url))
    handler.connect()
    try:
        slack_front.wait_connected()
        posted = slack_emulator.person("bob").chat_postMessage(channel=channel, text=f"<@{BOT_USER}> ping")
        payload = mention("Ev0BOLT", ts=posted["ts"])
        payload["event"]["channel"] = channel
        slack_front.push("events_api", payload)
        assert replied.wait(10)
    finally:
        handler.close()
    thread = slack_emulator.person("ana").conversations_replies(channel=channel, ts=posted["ts"])["messages"]
    assert [m["text"] for m in thread][-1] == "bolt heard it"
