"""Socket Mode: Slack pushes events and button clicks over a WebSocket the bot opens, so a MeshClaw with no
public URL still hears them. Needs the account's app-level token (`xapp-...`, scope connections:write).

slack_sdk's aiohttp `SocketModeClient` does the protocol: `apps.connections.open` for a WebSocket URL,
pings, and reconnecting when Slack closes the socket, asks it to (`disconnect` envelopes) or goes quiet.
This source turns `events_api` envelopes into events and `interactive` ones into approval answers, and
acknowledges an envelope once the platform has taken it (Slack redelivers an unacknowledged one, so a
failed hand-over is retried rather than lost); envelopes it has nothing to do with are acknowledged too.
An event id it has already emitted (a redelivery after a reconnect) is acknowledged and not emitted
again; the platform dedupes by key as well.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any

from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from meshclaw.connectors.contract import Account, EventSink
from meshclaw.connectors.slack.config import SlackConfig
from meshclaw.connectors.slack.events import answers_from_actions, event_from_callback

log = logging.getLogger(__name__)

REMEMBERED_EVENTS = 1000
PING_INTERVAL_S = 5.0


def wants_socket_mode(config: Any) -> bool:
    return isinstance(config, SlackConfig) and config.app_token is not None


async def run_socket_mode(account: Account[SlackConfig], sink: EventSink, stop: asyncio.Event) -> None:
    config = account.config
    if config.app_token is None:
        raise ValueError(f"the Slack account '{account.name}' has no app_token, which Socket Mode needs")
    seen: OrderedDict[str, None] = OrderedDict()

    async def on_request(client: SocketModeClient, request: SocketModeRequest) -> None:
        try:
            await deliver(request)
        except Exception:
            # Not acknowledged: Slack delivers the envelope again (up to three times), and the platform
            # starts runs once per key, so a failure here loses nothing.
            log.exception("Slack account '%s': could not hand over a Socket Mode envelope", account.name)
            return
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    async def deliver(request: SocketModeRequest) -> None:
        if request.type == "events_api":
            event = event_from_callback(account.name, request.payload)
            if event is None or event.key in seen:
                return
            await sink.emit(event)
            seen[event.key] = None
            if len(seen) > REMEMBERED_EVENTS:
                seen.popitem(last=False)
        elif request.type == "interactive":
            for answer in answers_from_actions(account.name, request.payload):
                await sink.answer(answer)

    web = AsyncWebClient(base_url=config.base_url, timeout=max(1, round(config.timeout_seconds)))
    client = SocketModeClient(
        app_token=config.app_token.get_secret_value(), web_client=web, ping_interval=PING_INTERVAL_S
    )
    client.socket_mode_request_listeners.append(on_request)  # type: ignore[arg-type]
    # connect() retries on its own until it succeeds or the client is closed; reconnecting later is the
    # client's monitor's job. Both run until stop.
    connecting = asyncio.ensure_future(client.connect())  # type: ignore[no-untyped-call]
    try:
        await stop.wait()
    finally:
        await client.close()  # type: ignore[no-untyped-call]
        connecting.cancel()
        await asyncio.gather(connecting, return_exceptions=True)
