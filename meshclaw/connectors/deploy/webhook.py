"""The webhook adapter: a signed POST that asks a CI pipeline or deploy service to act.

Body: `{"action", "service", "environment", "version", "idempotency_key"}` as JSON. Headers:
`Idempotency-Key` (the call's key, so the receiver can drop a replay), `X-MeshClaw-Timestamp` (Unix
seconds) and the signature header, `sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>` with the account's
secret (the receiver recomputes it and refuses old timestamps). A 2xx answer means the receiver took it:
the outcome is `started` unless its JSON reports a final `state`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx

from meshclaw.connectors.deploy.config import WebhookTarget
from meshclaw.connectors.deploy.names import VERSION
from meshclaw.connectors.deploy.target import Action, Deployment, Outcome, OutcomeStatus
from meshclaw.connectors.deploy.transport import request
from meshclaw.tools.registry import ToolError


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookAdapter:
    def __init__(self, config: WebhookTarget) -> None:
        self._config = config

    async def deploy(self, service: str, environment: str, version: str, key: str | None) -> Outcome:
        return await self._post("deploy", self._config.deploy_url, service, environment, version, key)

    async def rollback(self, service: str, environment: str, version: str | None, key: str | None) -> Outcome:
        url = self._config.rollback_url or self._config.deploy_url
        return await self._post("rollback", url, service, environment, version, key)

    async def status(self, service: str, environment: str) -> Deployment | None:
        if self._config.status_url is None:
            return None
        async with self._client() as client:
            response = await request(
                client, "GET", self._config.status_url, what="deploy status",
                params={"service": service, "environment": environment},
            )  # fmt: skip
        try:
            body = response.json()
            deployment_id, version, state = str(body["id"]), str(body["version"]), body["state"]
        except (ValueError, KeyError, TypeError) as error:
            raise ToolError("the status URL must answer JSON with id, version and state") from error
        if state not in ("running", "succeeded", "failed") or not VERSION.fullmatch(version):
            raise ToolError(f"the status URL answered an unusable state or version: {str(body)[:200]}")
        return Deployment(
            id=deployment_id, service=service, environment=environment, version=version, state=state,
            ours=bool(body.get("idempotency_key")),
        )  # fmt: skip

    async def check(self) -> str:
        if self._config.status_url is None:
            return "webhook target (no status URL to call)"
        async with self._client() as client:
            await request(client, "GET", self._config.status_url, what="deploy status")
        return "status URL answers"

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self._config.timeout_seconds, follow_redirects=False)

    async def _post(
        self,
        action: Action,
        url: str,
        service: str,
        environment: str,
        version: str | None,
        key: str | None,
    ) -> Outcome:
        # Outside a durable run there is no key; a fresh one still lets the receiver drop our own retry.
        idempotency_key = key or f"direct-{uuid.uuid4().hex}"
        payload: dict[str, Any] = {
            "action": action, "service": service, "environment": environment, "version": version,
            "idempotency_key": idempotency_key,
        }  # fmt: skip
        body = json.dumps(payload, sort_keys=True).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            "X-MeshClaw-Timestamp": timestamp,
            self._config.signature_header: signature(self._config.secret.get_secret_value(), timestamp, body),
        }
        async with self._client() as client:
            response = await request(
                client, "POST", url, what=f"{action} webhook", content=body, headers=headers
            )
        answer: dict[str, Any] = {}
        try:
            parsed = response.json()
            answer = parsed if isinstance(parsed, dict) else {}
        except ValueError:
            pass
        state = answer.get("state")
        status: OutcomeStatus = (
            "succeeded" if state == "succeeded" else "failed" if state == "failed" else "started"
        )
        return Outcome(
            status=status, action=action, service=service, environment=environment, version=version,
            detail=f"HTTP {response.status_code} from the {action} webhook",
            reference=str(answer["id"]) if "id" in answer else None,
        )  # fmt: skip
