"""The deploy tools: start a release, roll it back, watch it, read its status.

Starting and rolling back are `deploy`: the policy gate asks a person to approve every such call unless an
admin pre-approved that exact pattern (meshclaw/policy/rules.py). Grants may narrow them by `services` and
`environments` (the `service` and `environment` arguments); the tools also refuse names the account does
not list. Watching and status only read (`read_private`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from meshclaw.connectors.contract import Account, Accounts
from meshclaw.connectors.deploy.config import DeployConfig
from meshclaw.connectors.deploy.names import VERSION, check_version
from meshclaw.connectors.deploy.target import open_target
from meshclaw.connectors.deploy.watch import watch_release
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.idempotency import current_key
from meshclaw.tools.registry import ToolError, ToolSpec

SCOPES = ("services", "environments")
_ACCOUNT = Field(description="The deployment account (target) to use, e.g. prod-deploy.")
_SERVICE = Field(description="The service, one the account lists, e.g. web.")
_ENVIRONMENT = Field(description="The environment, one the account lists, e.g. production.")
STATUS_WAIT_INTERVAL_S = 1.0
"""While `deploy_get_status` waits for a running deployment, it asks the target again this often."""


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str = _ACCOUNT
    service: str = _SERVICE
    environment: str = _ENVIRONMENT


class StartArgs(_Args):
    version: str = Field(
        pattern=VERSION.pattern, description="The version to deploy: letters, digits, . _ + - e.g. 1.4.2."
    )


class RollbackArgs(_Args):
    version: str | None = Field(
        default=None,
        pattern=VERSION.pattern,
        description="The version to return to; omit it to return to the one before the current.",
    )


class WatchArgs(_Args):
    version: str = Field(pattern=VERSION.pattern, description="The version being watched.")
    window_seconds: float | None = Field(
        default=None, gt=0, le=1800, description="How long to watch; default: the account's window."
    )


class StatusArgs(_Args):
    wait_seconds: float = Field(
        default=0, ge=0, le=3600,
        description="While the latest deployment is still running, ask again every second for up to this "
        "long (a watch must start once it finished); 0 answers at once.",
    )  # fmt: skip


def tools(accounts: Accounts) -> Sequence[ToolSpec]:
    async def account_for(args: _Args) -> Account[DeployConfig]:
        account = await accounts.get("deploy", args.account, DeployConfig)
        config = account.config
        if args.service not in config.services:
            raise ToolError(f"service '{args.service}' is not one of {', '.join(config.services)}")
        if args.environment not in config.environments:
            raise ToolError(
                f"environment '{args.environment}' is not one of {', '.join(config.environments)}"
            )
        return account

    async def start(args: StartArgs) -> dict[str, Any]:
        account = await account_for(args)
        target = open_target(account.config)
        outcome = await target.deploy(
            args.service, args.environment, check_version(args.version), current_key()
        )
        return outcome.as_dict()

    async def rollback(args: RollbackArgs) -> dict[str, Any]:
        account = await account_for(args)
        version = check_version(args.version) if args.version is not None else None
        target = open_target(account.config)
        outcome = await target.rollback(args.service, args.environment, version, current_key())
        return outcome.as_dict()

    async def watch(args: WatchArgs) -> dict[str, Any]:
        account = await account_for(args)
        verdict = await watch_release(
            account.config.watch, service=args.service, environment=args.environment,
            version=check_version(args.version), window=args.window_seconds,
        )  # fmt: skip
        return verdict.as_dict()

    async def status(args: StatusArgs) -> dict[str, Any]:
        account = await account_for(args)
        target = open_target(account.config)
        found = await target.status(args.service, args.environment)
        deadline = time.monotonic() + args.wait_seconds
        while found is not None and found.state == "running" and time.monotonic() < deadline:
            await asyncio.sleep(min(STATUS_WAIT_INTERVAL_S, max(0.0, deadline - time.monotonic())))
            found = await target.status(args.service, args.environment)
        if found is None:
            return {"service": args.service, "environment": args.environment, "known": False,
                    "detail": "the target has no status command or URL configured"}  # fmt: skip
        return {"known": True, **found.as_dict()}

    return (
        ToolSpec(
            name="deploy_start_release",
            description="Deploy a version of a service to an environment through the account's deploy "
            "target. Returns succeeded/failed (commands), started (a pipeline or sync runs on its own), or "
            "already_done (a repeat of the same call). Then watch it with deploy_watch_release.",
            effect=EffectClass.DEPLOY, args=StartArgs, function=start, scopes=SCOPES, origin="deploy",
        ),
        ToolSpec(
            name="deploy_rollback_release",
            description="Roll a service in an environment back to the previous version (or to `version`), "
            "e.g. after deploy_watch_release found a regression.",
            effect=EffectClass.DEPLOY, args=RollbackArgs, function=rollback, scopes=SCOPES, origin="deploy",
        ),
        ToolSpec(
            name="deploy_watch_release",
            description="Watch a deployed version for a window: health checks and PromQL error-rate and "
            "latency queries against thresholds. Returns healthy, regressed (with the failing check, its "
            "value and threshold) or inconclusive (no data). Call it once the deployment finished "
            "(deploy_get_status says succeeded): while a pipeline still deploys, the old version answers.",
            effect=EffectClass.READ_PRIVATE, args=WatchArgs, function=watch, scopes=SCOPES, origin="deploy",
        ),
        ToolSpec(
            name="deploy_get_status",
            description="The latest deployment of a service in an environment: its id, version and state "
            "(running, succeeded, failed); with wait_seconds, once it stopped running (or the time is up).",
            effect=EffectClass.READ_PRIVATE, args=StatusArgs, function=status, scopes=SCOPES, origin="deploy",
        ),
    )  # fmt: skip
