"""The Argo CD adapter: a deploy is a sync of the service's application to the version's revision, a
rollback is Argo CD's rollback to an earlier entry of the application's history.

Written against Argo CD's REST API (the swagger of its API server) and tested with a contract fixture; it
has NOT been run against a real Argo CD (docs/connectors/deploy.md says so).

- `GET /api/v1/applications/{name}` answers the Application: `status.sync.{status,revision}`,
  `status.health.status`, `status.history[] {id, revision, deployedAt}` and `status.operationState
  {phase: Running|Succeeded|Failed|Error|Terminating, startedAt, operation: {info[], sync: {revision}}}`.
- `POST /api/v1/applications/{name}/sync` with `{"revision", "prune", "dryRun", "infos"}` starts a sync
  (syncing to a revision other than the app's target needs the `override` permission).
- `POST /api/v1/applications/{name}/rollback` with `{"id": <history id>, "prune", "dryRun"}` (refused for
  an application with automated sync).
- Auth: `Authorization: Bearer <token>`.

Argo CD takes no idempotency key, but a sync records `infos` in its operation: the call's key goes there as
`meshclaw-idempotency-key`, and a repeated call that finds it on the current operation does not sync again.
A rollback is idempotent by its nature: one whose revision the application already runs is not repeated.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from meshclaw.connectors.deploy.config import ArgoCDTarget
from meshclaw.connectors.deploy.target import Deployment, DeploymentState, Outcome
from meshclaw.connectors.deploy.transport import request
from meshclaw.tools.registry import ToolError

KEY_INFO = "meshclaw-idempotency-key"


class ArgoCDAdapter:
    def __init__(self, config: ArgoCDTarget) -> None:
        self._config = config

    async def deploy(self, service: str, environment: str, version: str, key: str | None) -> Outcome:
        name = self._app(service, environment)
        app = await self._get(name)
        operation = _status(app).get("operationState") or {}
        if key is not None and key in _infos(operation):
            return Outcome(
                status="already_done", action="deploy", service=service, environment=environment,
                version=version, reference=name,
                detail=f"the current operation of {name} was started with this idempotency key "
                f"({operation.get('phase', 'unknown')})",
            )  # fmt: skip
        _refuse_if_running(name, operation)
        body: dict[str, Any] = {"revision": version, "prune": False, "dryRun": False}
        if key is not None:
            body["infos"] = [{"name": KEY_INFO, "value": key}]
        if self._config.app_namespace:
            body["appNamespace"] = self._config.app_namespace
        async with self._client() as client:
            await request(client, "POST", self._url(name, "/sync"), what="Argo CD sync", json=body)
        return Outcome(
            status="started", action="deploy", service=service, environment=environment, version=version,
            reference=name, detail=f"sync of {name} to {version} started",
        )  # fmt: skip

    async def rollback(self, service: str, environment: str, version: str | None, key: str | None) -> Outcome:
        name = self._app(service, environment)
        app = await self._get(name)
        status = _status(app)
        history = [entry for entry in status.get("history") or [] if isinstance(entry, dict)]
        if version is not None:
            chosen = [entry for entry in history if entry.get("revision") == version]
        else:
            chosen = history[-2:-1]  # the entry before the one deployed now
        if not chosen:
            wanted = f"revision {version}" if version else "an earlier deployment"
            raise ToolError(f"{name} has no history entry for {wanted} to roll back to")
        entry = chosen[-1]
        revision = str(entry.get("revision", ""))
        operation = status.get("operationState") or {}
        current = (status.get("sync") or {}).get("revision")
        if current == revision and operation.get("phase") in ("Running", "Succeeded"):
            return Outcome(
                status="already_done", action="rollback", service=service, environment=environment,
                version=revision, reference=name, detail=f"{name} already runs {revision}",
            )  # fmt: skip
        _refuse_if_running(name, operation)
        body: dict[str, Any] = {"id": entry.get("id"), "prune": False, "dryRun": False}
        if self._config.app_namespace:
            body["appNamespace"] = self._config.app_namespace
        async with self._client() as client:
            await request(client, "POST", self._url(name, "/rollback"), what="Argo CD rollback", json=body)
        return Outcome(
            status="started", action="rollback", service=service, environment=environment,
            version=revision, reference=name, detail=f"rollback of {name} to history {entry.get('id')} started",
        )  # fmt: skip

    async def status(self, service: str, environment: str) -> Deployment | None:
        name = self._app(service, environment)
        status = _status(await self._get(name))
        operation = status.get("operationState") or {}
        if not operation:
            return None
        sync = operation.get("syncResult") or (operation.get("operation") or {}).get("sync") or {}
        version = str(sync.get("revision") or (status.get("sync") or {}).get("revision") or "unknown")
        return Deployment(
            id=f"{name}@{operation.get('startedAt', '')}", service=service, environment=environment,
            version=version, state=_phase(operation.get("phase")), ours=bool(_infos(operation)),
        )  # fmt: skip

    async def check(self) -> str:
        service, apps = next(iter(self._config.applications.items()))
        name = next(iter(apps.values()))
        status = _status(await self._get(name))
        sync = (status.get("sync") or {}).get("status", "unknown")
        health = (status.get("health") or {}).get("status", "unknown")
        return f"application {name} ({service}): {sync}, {health}"

    def _app(self, service: str, environment: str) -> str:
        name = self._config.applications.get(service, {}).get(environment)
        if name is None:
            raise ToolError(f"no Argo CD application configured for {service} in {environment}")
        return name

    def _url(self, name: str, suffix: str = "") -> str:
        return f"{self._config.server.rstrip('/')}/api/v1/applications/{quote(name, safe='')}{suffix}"

    def _client(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self._config.token.get_secret_value()}"}
        return httpx.AsyncClient(timeout=self._config.timeout_seconds, headers=headers)

    async def _get(self, name: str) -> dict[str, Any]:
        params = {"appNamespace": self._config.app_namespace} if self._config.app_namespace else None
        async with self._client() as client:
            response = await request(
                client, "GET", self._url(name), what="Argo CD application", params=params
            )
        body = response.json()
        if not isinstance(body, dict):
            raise ToolError(f"Argo CD answered something other than an application for {name}")
        return body


def _status(app: dict[str, Any]) -> dict[str, Any]:
    status = app.get("status")
    return status if isinstance(status, dict) else {}


def _infos(operation: dict[str, Any]) -> set[str]:
    infos = (operation.get("operation") or {}).get("info") or []
    return {
        str(item.get("value")) for item in infos if isinstance(item, dict) and item.get("name") == KEY_INFO
    }


def _phase(phase: object) -> DeploymentState:
    if phase == "Succeeded":
        return "succeeded"
    if phase in ("Failed", "Error"):
        return "failed"
    return "running"


def _refuse_if_running(name: str, operation: dict[str, Any]) -> None:
    if operation.get("phase") in ("Running", "Terminating"):
        raise ToolError(
            f"another operation is running on {name} (started {operation.get('startedAt', '?')}); wait for "
            "it and check deploy_get_status"
        )
