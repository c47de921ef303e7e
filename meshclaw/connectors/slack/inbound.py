"""Slack's HTTP requests to MeshClaw: Events API deliveries and interactivity (button clicks).

Every request is checked first against the account's signing secret with Slack's v0 scheme
(`X-Slack-Signature` = HMAC-SHA256 of `v0:{X-Slack-Request-Timestamp}:{body}`, checked by slack_sdk's
`SignatureVerifier`); a timestamp more than 5 minutes from when MeshClaw received the request is refused,
so a captured request cannot be replayed later. Then:

- `url_verification` (Slack checking the Request URL) is answered with its challenge;
- an `event_callback` becomes an `Event` (see events.py);
- an interactivity payload (form field `payload`) of type `block_actions` becomes `ApprovalAnswer`s.

Anything else signed is acknowledged with 200 and does nothing, so Slack does not retry it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import Clock, SignatureVerifier

from meshclaw.connectors.contract import Account, InboundReply, InboundRequest
from meshclaw.connectors.slack.config import SlackConfig
from meshclaw.connectors.slack.events import answers_from_actions, event_from_callback


class _At(Clock):
    """slack_sdk's verifier reads the time from a clock; this one says when the request arrived."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    def now(self) -> float:
        return self._seconds


def signed(account: Account[SlackConfig], request: InboundRequest) -> bool:
    verifier = SignatureVerifier(
        account.config.signing_secret.get_secret_value(), clock=_At(request.received_at.timestamp())
    )
    try:
        return verifier.is_valid_request(request.body, dict(request.headers))
    except ValueError:  # a timestamp that is not a number
        return False


def payload_of(request: InboundRequest) -> Mapping[str, Any] | None:
    """The JSON of an Events API body, or of an interactivity form's `payload` field."""
    content_type = request.headers.get("content-type", "")
    try:
        if "application/x-www-form-urlencoded" in content_type:
            form = parse_qs(request.body.decode("utf-8"))
            if "payload" not in form:
                return {}
            data = json.loads(form["payload"][0])
        else:
            data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):  # RecursionError: nested too deeply
        return None
    return data if isinstance(data, dict) else None


async def handle(account: Account[SlackConfig], request: InboundRequest) -> InboundReply:
    if not signed(account, request):
        return InboundReply(status=401, body={"error": "invalid or stale Slack signature"})
    payload = payload_of(request)
    if payload is None:
        return InboundReply(status=400, body={"error": "the body is not Slack's JSON"})
    if payload.get("type") == "url_verification":
        return InboundReply(body={"challenge": str(payload.get("challenge", ""))})
    event = event_from_callback(account.name, payload)
    if event is not None:
        return InboundReply(events=[event])
    return InboundReply(answers=tuple(answers_from_actions(account.name, payload)))
