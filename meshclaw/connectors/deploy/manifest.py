"""The deploy connector: deployment targets (command, webhook, GitHub Actions, Argo CD), watching, events."""

from __future__ import annotations

from typing import Any

from meshclaw.connectors.contract import Account, Connector, EventSourceSpec
from meshclaw.connectors.deploy.config import CommandTarget, DeployConfig, WebhookTarget
from meshclaw.connectors.deploy.events import poll_deployments
from meshclaw.connectors.deploy.target import open_target
from meshclaw.connectors.deploy.tools import tools


async def check(account: Account[Any]) -> str:
    config: DeployConfig = account.config
    return await open_target(config).check()


def can_poll(config: DeployConfig) -> bool:
    """Whether the target can report deployments: a command target needs a status command, a webhook
    target a status URL; GitHub Actions and Argo CD always can."""
    target = config.target
    if isinstance(target, CommandTarget):
        return any(commands.status is not None for commands in target.commands.values())
    if isinstance(target, WebhookTarget):
        return target.status_url is not None
    return True


def connector() -> Connector:
    return Connector(
        name="deploy",
        title="Deployments",
        config=DeployConfig,
        tools=tools,
        check=check,
        events=(
            EventSourceSpec(
                name="poll",
                emits=("deployment.started", "deployment.finished"),
                run=poll_deployments,
                enabled=can_poll,
            ),
        ),
    )
