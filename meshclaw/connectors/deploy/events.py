"""The event source: polls the target for deployments started by others and emits `deployment.started`
and `deployment.finished` (fields `account`, `service`, `environment`, `version`; finished adds `state`).

The first poll only learns what is deployed now; later polls emit what changed. Deployments MeshClaw
started (`Deployment.ours`) are not announced: the run that started them already knows. The fields are the
target's own names and validated versions, so the events are trusted (`untrusted=False`). Each event's key
is the deployment's id, so a restarted poller that sees the same deployment again does not start runs twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from meshclaw.connectors.contract import Account, Event, EventSink
from meshclaw.connectors.deploy.config import DeployConfig
from meshclaw.connectors.deploy.target import Deployment, open_target
from meshclaw.tools.registry import ToolError

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 300.0


async def poll_deployments(account: Account[Any], sink: EventSink, stop: asyncio.Event) -> None:
    config: DeployConfig = account.config
    target = open_target(config)
    seen: dict[tuple[str, str], Deployment] = {}
    delay = config.poll_seconds
    while not stop.is_set():
        failed = False
        for service in config.services:
            for environment in config.environments:
                try:
                    now = await target.status(service, environment)
                except ToolError as error:
                    log.warning(
                        "deploy account %s: status of %s/%s: %s", account.name, service, environment, error
                    )
                    failed = True
                    continue
                if now is None:
                    continue
                before = seen.get((service, environment))
                seen[(service, environment)] = now
                if before is not None and not now.ours:
                    for event in _changes(account.name, before, now):
                        await sink.emit(event)
        # Back off while the target fails (it may be restarting), up to 5 minutes; reset on success.
        delay = min(delay * 2, MAX_BACKOFF_S) if failed else config.poll_seconds
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)


def _changes(account: str, before: Deployment, now: Deployment) -> list[Event]:
    events = []
    if now.id != before.id:
        events.append(_event("deployment.started", account, now))
        if now.state != "running":
            events.append(_event("deployment.finished", account, now))
    elif before.state == "running" and now.state != "running":
        events.append(_event("deployment.finished", account, now))
    return events


def _event(kind: str, account: str, deployment: Deployment) -> Event:
    fields = {
        "account": account, "service": deployment.service, "environment": deployment.environment,
        "version": deployment.version,
    }  # fmt: skip
    if kind == "deployment.finished":
        fields["state"] = deployment.state
    suffix = kind.split(".")[1]
    return Event(
        type=kind, account=account, fields=fields, untrusted=False,
        key=f"deploy:{account}:{deployment.service}:{deployment.environment}:{deployment.id}:{suffix}",
    )  # fmt: skip
