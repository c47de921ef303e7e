"""The Slack connector as the platform sees it (meshclaw/connectors/contract.py)."""

from __future__ import annotations

from typing import Any

from meshclaw.connectors.contract import Account, Connector, EventSourceSpec
from meshclaw.connectors.slack.approvals import ask_approval
from meshclaw.connectors.slack.client import SlackClient
from meshclaw.connectors.slack.config import SlackConfig
from meshclaw.connectors.slack.events import EMITS
from meshclaw.connectors.slack.inbound import handle
from meshclaw.connectors.slack.socket_mode import run_socket_mode, wants_socket_mode
from meshclaw.connectors.slack.tools import slack_tools


async def check(account: Account[Any]) -> str:
    """`auth.test` with the bot token: proves the token works and says who the bot is."""
    who = await SlackClient(account=account).whoami()
    return f"bot {who.get('user', '?')} ({who.get('user_id', '?')}) in workspace {who.get('team', '?')}"


def connector() -> Connector:
    return Connector(
        name="slack",
        title="Slack",
        config=SlackConfig,
        tools=slack_tools,
        check=check,
        events=(
            EventSourceSpec(name="socket_mode", emits=EMITS, run=run_socket_mode, enabled=wants_socket_mode),
        ),
        inbound=handle,
        ask_approval=ask_approval,
        owner_identity=owner_identity,
    )


def owner_identity(config: SlackConfig) -> str | None:
    """Only the owner's own clicks decide their approvals (anyone in a shared DM could click)."""
    return config.owner_slack_user
