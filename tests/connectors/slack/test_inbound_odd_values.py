"""Signed Slack requests with odd values anywhere in them are answered, never a crash.

The signature proves a request came from Slack, not that its body has the shape Slack documents: a
changed API, an app configured with other event types, or a leaked signing secret can send anything.
The walk takes every request shape the handler acts on (url_verification, each event type it turns into
an event, a button click) and, for every value in it, at any depth, sends a copy with that value replaced
by each odd value (null, the wrong type, empty and very long strings, huge, negative and non-finite
numbers, control characters), and a copy without it; each signed with the account's secret. Each must
come back as a reply below 500; the events and answers it yields must carry text where text belongs.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

from meshclaw.connectors.catalog import load
from meshclaw.connectors.contract import InboundReply, InboundRequest
from tests.connectors.slack.conftest import APPROVE_CLICK, account, run, signed_request

ODD: list[Any] = [None, "", "x" * 5000, "9" * 5000, 2**70, -1, 1e308, math.nan, math.inf, [], {}, True,
                  "ü🙂\u202e\x00"]  # fmt: skip

MESSAGE = {"type": "message", "channel": "C1", "channel_type": "channel", "user": "U2", "text": "hi",
           "ts": "2.2", "thread_ts": "1.1"}  # fmt: skip
EVENTS: list[dict[str, Any]] = [
    MESSAGE,
    {**MESSAGE, "type": "app_mention"},
    {**MESSAGE, "channel": "D1", "channel_type": "im"},
    {
        "type": "reaction_added",
        "user": "U2",
        "reaction": "+1",
        "item": {"type": "message", "channel": "D1", "ts": "5.5"},
        "item_user": "U0BOT",
        "event_ts": "6.6",
    },
]
DOCUMENTS: list[dict[str, Any]] = [
    {"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV"},
    *(
        {"type": "event_callback", "team_id": "T1", "event_id": "Ev1", "event_time": 1, "event": event}
        for event in EVENTS
    ),
]


def variants(document: Any) -> Iterator[Any]:
    """Copies of `document`, each with one value (at any depth) replaced by an odd one, or removed."""
    yield from ODD  # the whole document odd

    def paths(value: Any, at: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        if isinstance(value, dict):
            for key, item in value.items():
                yield (*at, key)
                yield from paths(item, (*at, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield (*at, index)
                yield from paths(item, (*at, index))

    for path in list(paths(document, ())):
        for odd in [*ODD, KeyError]:
            changed = copy.deepcopy(document)
            parent = changed
            for step in path[:-1]:
                parent = parent[step]
            if odd is KeyError:
                del parent[path[-1]]
            else:
                parent[path[-1]] = odd
            yield changed


def inbound(request: InboundRequest) -> InboundReply:
    handler = load("slack").inbound
    assert handler is not None
    return run(handler(account("http://127.0.0.1:9/api/"), request))


def check(reply: InboundReply, sent: str) -> None:
    assert reply.status < 500, sent
    for event in reply.events:
        assert all(isinstance(value, str) for value in event.fields.values()), (sent, event.fields)
        assert isinstance(event.key, str) and event.key, sent
    for answer in reply.answers:
        assert isinstance(answer.approval_id, str) and answer.approval_id, sent
        assert isinstance(answer.approved, bool), sent


def test_odd_values_in_signed_event_requests_are_answered() -> None:
    sent = 0
    for document in DOCUMENTS:
        for variant in variants(document):
            body = json.dumps(variant).encode()  # NaN and Infinity as Python's json writes them
            check(inbound(signed_request(body)), body.decode()[:200])
            sent += 1
    assert sent > 700


def test_odd_values_in_signed_button_clicks_are_answered() -> None:
    sent = 0
    for variant in variants(APPROVE_CLICK):
        body = urlencode({"payload": json.dumps(variant)}).encode()
        check(
            inbound(signed_request(body, content_type="application/x-www-form-urlencoded")),
            str(variant)[:200],
        )
        sent += 1
    odd_forms = [b"payload=", b"payload=%7B", b"payload=1&payload=2", b"other=1", b"\xff\xfe", b"%"]
    for body in odd_forms:
        check(inbound(signed_request(body, content_type="application/x-www-form-urlencoded")), repr(body))
    assert sent > 100
