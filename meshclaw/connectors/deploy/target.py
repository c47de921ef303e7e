"""The deployment-target abstraction: what every adapter (command, webhook, GitHub Actions, Argo CD) does.

Tools, the watch and the event source speak only to `DeployTarget`; each adapter module is the only place
that knows its remote protocol.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from meshclaw.connectors.deploy.config import (
    ArgoCDTarget,
    CommandTarget,
    DeployConfig,
    GithubActionsTarget,
    WebhookTarget,
)

OutcomeStatus = Literal["succeeded", "failed", "started", "already_done", "unknown"]
"""`started`: the remote system accepted it and runs it on its own (a CI pipeline, an Argo CD sync);
`already_done`: a call with the same idempotency key did it before, nothing was started again;
`unknown`: a call with this key was cut off mid-way, so it was not started again (check the status)."""

Action = Literal["deploy", "rollback"]
DeploymentState = Literal["running", "succeeded", "failed"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    status: OutcomeStatus
    action: Action
    service: str
    environment: str
    version: str | None
    detail: str
    """What the target said (a command's last output lines, a run's URL), without secrets."""
    reference: str | None = None
    """The remote id of what was started (a workflow run, an operation), when known."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, kw_only=True, slots=True)
class Deployment:
    """The latest deployment of a service in an environment, as the target reports it."""

    id: str
    service: str
    environment: str
    version: str
    state: DeploymentState
    ours: bool = False
    """Started by MeshClaw (found in the command ledger or carrying our idempotency key)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class DeployTarget(Protocol):
    async def deploy(self, service: str, environment: str, version: str, key: str | None) -> Outcome: ...

    async def rollback(
        self, service: str, environment: str, version: str | None, key: str | None
    ) -> Outcome: ...

    async def status(self, service: str, environment: str) -> Deployment | None:
        """None when the target cannot report one (no status command or URL configured)."""
        ...

    async def check(self) -> str: ...


def open_target(config: DeployConfig) -> DeployTarget:
    # Imported here so an account of one kind never loads the others' modules.
    target = config.target
    if isinstance(target, CommandTarget):
        from meshclaw.connectors.deploy.command import CommandAdapter

        return CommandAdapter(target)
    if isinstance(target, WebhookTarget):
        from meshclaw.connectors.deploy.webhook import WebhookAdapter

        return WebhookAdapter(target)
    if isinstance(target, GithubActionsTarget):
        from meshclaw.connectors.deploy.github_actions import GithubActionsAdapter

        return GithubActionsAdapter(target)
    if isinstance(target, ArgoCDTarget):
        from meshclaw.connectors.deploy.argocd import ArgoCDAdapter

        return ArgoCDAdapter(target)
    raise AssertionError(f"unknown target kind {target!r}")
