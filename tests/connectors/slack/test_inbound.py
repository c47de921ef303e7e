"""Slack's Events API and interactivity requests through the connector's `inbound` handler: Slack's v0
signature checked with the account's signing secret, url_verification answered, events and button
clicks turned into what the platform acts on. Event bodies are built from messages really posted to the
emulator (it signs its own deliveries GitHub-style, not as Slack does, so the test signs them)."""

from __future__ import annotations

import copy
import json
import time
from typing import Any
from urllib.parse import urlencode

from slack_bolt import App, BoltRequest
from slack_sdk import WebClient

from meshclaw.connectors.catalog import load
from meshclaw.connectors.contract import InboundReply, InboundRequest
from tests.connectors.slack.conftest import (
    ACCOUNT,
    APPROVE_CLICK,
    SIGNING_SECRET,
    account,
    run,
    signed_request,
)
from tests.servers.slack import BOT_USER, SlackEmulator


def inbound(request: InboundRequest, base_url: str = "http://127.0.0.1:9/api/") -> InboundReply:
    handler = load("slack").inbound
    assert handler is not None
    return run(handler(account(base_url), request))


def callback(event: dict[str, Any], event_id: str = "Ev0001") -> bytes:
    return json.dumps(
        {
            "type": "event_callback",
            "team_id": "T000000001",
            "event_id": event_id,
            "event_time": 1,
            "event": event,
        }
    ).encode()


def test_url_verification_is_answered_with_its_challenge() -> None:
    body = json.dumps(
        {"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    )
    reply = inbound(signed_request(body.encode()))
    assert (reply.status, reply.body) == (
        200,
        {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"},
    )


def test_a_bad_signature_is_refused() -> None:
    body = json.dumps({"type": "url_verification", "challenge": "x"}).encode()
    forged = signed_request(body, secret="not-the-secret")
    assert inbound(forged).status == 401
    tampered = signed_request(body)
    tampered = InboundRequest(
        headers=tampered.headers, body=body.replace(b'"x"', b'"y"'), received_at=tampered.received_at
    )
    assert inbound(tampered).status == 401
    unsigned = InboundRequest(
        headers={"content-type": "application/json"}, body=body, received_at=tampered.received_at
    )
    assert inbound(unsigned).status == 401
    garbage = InboundRequest(
        headers={**tampered.headers, "x-slack-request-timestamp": "soon"},
        body=body,
        received_at=tampered.received_at,
    )
    assert inbound(garbage).status == 401


def test_a_stale_timestamp_is_refused_even_when_signed() -> None:
    body = callback({"type": "app_mention", "user": "U1", "text": "hi", "ts": "1.1", "channel": "C1"})
    assert inbound(signed_request(body, at=time.time() - 6 * 60)).status == 401
    assert inbound(signed_request(body, at=time.time() - 4 * 60)).status == 200


def test_our_signatures_are_the_ones_slack_bolt_accepts() -> None:
    """The signer these tests use agrees with slack_bolt's own verification, so what the handler accepts
    here is what real Slack sends."""
    app = App(
        client=WebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/api/"),
        signing_secret=SIGNING_SECRET,
        token_verification_enabled=False,
    )
    body = json.dumps({"type": "url_verification", "challenge": "c-123"}).encode()
    good = signed_request(body)
    bad = signed_request(body, secret="other")
    assert app.dispatch(BoltRequest(body=body.decode(), headers=dict(good.headers))).status == 200
    assert app.dispatch(BoltRequest(body=body.decode(), headers=dict(bad.headers))).status == 401
    assert inbound(good).status == 200 and inbound(bad).status == 401


def test_a_mention_becomes_chat_mentioned(slack_emulator: SlackEmulator) -> None:
    channel = slack_emulator.channel_id("general")
    posted = slack_emulator.person("bob").chat_postMessage(
        channel=channel, text=f"<@{BOT_USER}> roll back api"
    )
    message = posted["message"]
    body = callback({**message, "type": "app_mention", "channel": channel}, event_id="Ev0MENTION1")

    reply = inbound(signed_request(body))

    [event] = reply.events
    assert event.type == "chat.mentioned" and event.key == "Ev0MENTION1" and event.untrusted
    assert event.account == ACCOUNT
    assert event.fields == {
        "account": ACCOUNT,
        "channel": channel,
        "user": slack_emulator.user_id("bob"),
        "ts": posted["ts"],
        "text": f"<@{BOT_USER}> roll back api",
    }


def test_a_dm_becomes_chat_dm_received(slack_emulator: SlackEmulator) -> None:
    posted = slack_emulator.person("bob").chat_postMessage(channel=BOT_USER, text="are you there?")
    body = callback(
        {**posted["message"], "channel": posted["channel"], "channel_type": "im"}, event_id="Ev0DM1"
    )
    [event] = inbound(signed_request(body)).events
    assert event.type == "chat.dm_received"
    assert event.fields["channel"] == posted["channel"] and event.fields["ts"] == posted["ts"]


def test_a_channel_message_in_a_thread_becomes_chat_message_received() -> None:
    body = callback(
        {
            "type": "message",
            "channel": "C1",
            "channel_type": "channel",
            "user": "U2",
            "text": "hi",
            "ts": "2.2",
            "thread_ts": "1.1",
        }
    )
    [event] = inbound(signed_request(body)).events
    assert event.type == "chat.message_received"
    assert event.fields == {
        "account": ACCOUNT,
        "channel": "C1",
        "user": "U2",
        "ts": "2.2",
        "text": "hi",
        "thread_ts": "1.1",
    }


def test_a_reaction_to_a_message_becomes_chat_reaction_added() -> None:
    item = {"type": "message", "channel": "D1", "ts": "5.5"}
    body = callback({"type": "reaction_added", "user": "U2", "reaction": "+1", "item": item,
                     "item_user": BOT_USER, "event_ts": "6.6"}, event_id="Ev0REACT1")  # fmt: skip
    [event] = inbound(signed_request(body)).events
    assert event.type == "chat.reaction_added" and event.key == "Ev0REACT1"
    assert event.fields == {"account": ACCOUNT, "channel": "D1", "ts": "5.5", "user": "U2", "reaction": "+1"}
    on_a_file = {
        "type": "reaction_added",
        "user": "U2",
        "reaction": "+1",
        "item": {"type": "file", "file": "F1"},
    }
    assert not inbound(signed_request(callback(on_a_file))).events


def test_bot_messages_and_edits_start_nothing() -> None:
    own = {
        "type": "message",
        "channel": "C1",
        "user": BOT_USER,
        "bot_id": "B0MESHCLAW",
        "text": "done",
        "ts": "3.3",
    }
    edited = {"type": "message", "subtype": "message_changed", "channel": "C1", "ts": "3.4"}
    other = {"type": "reaction_added", "user": "U2", "reaction": "eyes", "item": {}}
    for event in (own, edited, other):
        reply = inbound(signed_request(callback(event)))
        assert (reply.status, reply.events, reply.answers) == (200, (), ())


def test_a_body_that_is_not_json_is_refused_after_the_signature() -> None:
    assert inbound(signed_request(b"{not json")).status == 400
    assert inbound(signed_request(b"[" * 50_000)).status == 400  # past Python's recursion limit


def test_a_button_click_becomes_an_approval_answer() -> None:
    payload = copy.deepcopy(APPROVE_CLICK)
    body = urlencode({"payload": json.dumps(payload)}).encode()
    reply = inbound(signed_request(body, content_type="application/x-www-form-urlencoded"))
    [answer] = reply.answers
    assert (answer.approval_id, answer.approved, answer.external_user, answer.account) == (
        "ap-1",
        True,
        "U0ANA",
        ACCOUNT,
    )

    payload["actions"][0]["action_id"] = "meshclaw_deny"
    body = urlencode({"payload": json.dumps(payload)}).encode()
    [denied] = inbound(signed_request(body, content_type="application/x-www-form-urlencoded")).answers
    assert denied.approved is False

    payload["actions"][0]["action_id"] = "someone_elses_button"
    body = urlencode({"payload": json.dumps(payload)}).encode()
    assert inbound(signed_request(body, content_type="application/x-www-form-urlencoded")).answers == ()
