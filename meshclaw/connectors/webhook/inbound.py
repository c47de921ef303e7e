"""Inbound webhooks: a signed request becomes a `webhook.received` event.

The event's fields are the JSON body's top-level strings, numbers and booleans (each cut to 200
characters), which triggers filter on, plus `event` from an `X-GitHub-Event` / `X-Event-Type` header.
Outsiders wrote all of it, so the event is untrusted and the runs it starts are tainted. Its key is the
sender's delivery id when there is one, else the body's SHA-256: a redelivery starts nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from meshclaw.connectors.contract import Account, Event, InboundReply, InboundRequest
from meshclaw.connectors.webhook.config import WebhookConfig
from meshclaw.connectors.webhook.signing import verify

FIELD_CHARS = 200
DELIVERY_HEADERS = ("x-github-delivery", "x-gitea-delivery", "x-meshclaw-delivery", "x-request-id")
EVENT_HEADERS = ("x-github-event", "x-gitea-event", "x-event-type")


async def receive(account: Account[Any], request: InboundRequest) -> InboundReply:
    config: WebhookConfig = account.config
    if len(request.body) > config.max_body_bytes:
        return InboundReply(status=413, body={"error": f"body over {config.max_body_bytes} bytes"})
    problem = verify(config, request.headers, request.body, request.received_at)
    if problem is not None:
        return InboundReply(status=401, body={"error": f"not accepted: {problem}"})
    try:
        data = json.loads(request.body) if request.body.strip() else {}
    except ValueError:
        return InboundReply(status=400, body={"error": "the body must be JSON (an object) or empty"})
    except RecursionError:  # Python's json follows nesting by recursion: a few thousand brackets end it
        return InboundReply(status=400, body={"error": "the body is nested too deeply"})
    if not isinstance(data, dict):
        return InboundReply(status=400, body={"error": "the body must be a JSON object"})
    fields = {
        str(key)[:64]: (json.dumps(value) if isinstance(value, bool) else str(value))[:FIELD_CHARS]
        for key, value in data.items()
        if isinstance(value, str | int | float | bool)
    }
    kind = next((request.headers[h] for h in EVENT_HEADERS if request.headers.get(h)), None)
    if kind:
        fields["event"] = kind[:FIELD_CHARS]
    delivery = next((request.headers[h] for h in DELIVERY_HEADERS if request.headers.get(h)), None)
    key = f"delivery:{delivery}" if delivery else "sha256:" + hashlib.sha256(request.body).hexdigest()
    event = Event(type="webhook.received", account=account.name, fields=fields, key=key, untrusted=True)
    return InboundReply(status=202, body={"accepted": True}, events=(event,))
