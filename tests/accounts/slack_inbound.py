"""Slack's requests to the `work-slack` account's inbound URL, signed with the app's signing secret as
Slack signs them (v0: HMAC-SHA256 of `v0:{timestamp}:{body}`). The Slack emulator signs its own deliveries
GitHub-style, so the chat tests sign what Slack would send."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from fastapi.testclient import TestClient
from httpx2 import Response  # what Starlette's TestClient returns

SIGNING_SECRET = "chat-approvals-signing-secret"


def post_signed(client: TestClient, body: bytes, content_type: str) -> Response:
    stamp = str(int(time.time()))
    signature = (
        "v0=" + hmac.new(SIGNING_SECRET.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    )
    return client.post("/api/v1/accounts/work-slack/inbound", content=body, headers={
        "Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature})  # fmt: skip


def deliver(client: TestClient, event: dict[str, Any]) -> None:
    """Slack's Events API delivery of one event, accepted."""
    body = json.dumps({"type": "event_callback", "team_id": "T0MESHCLAW", "event_id": f"Ev{uuid.uuid4().hex[:12]}",
                       "event_time": int(time.time()), "event": event}).encode()  # fmt: skip
    answer = post_signed(client, body, "application/json")
    assert answer.status_code == 200, answer.text
