"""The webhook connector: signed requests in as `webhook.received` events, out as a tool."""

from __future__ import annotations

from typing import Any

from meshclaw.connectors.contract import Account, Connector
from meshclaw.connectors.webhook import inbound, tools
from meshclaw.connectors.webhook.config import WebhookConfig


async def check(account: Account[Any]) -> str:
    config: WebhookConfig = account.config
    return (
        "signs with the account's secret, scheme "
        f"{config.scheme}; POST signed requests to /api/v1/accounts/{account.name}/inbound"
    )


def connector() -> Connector:
    return Connector(
        name="webhook",
        title="Webhooks (signed HTTP in and out)",
        config=WebhookConfig,
        tools=tools.build,
        check=check,
        inbound=inbound.receive,
    )
