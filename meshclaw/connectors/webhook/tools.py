"""`webhook_send_request`: an HTTP request to a URL, signed with the account's secret.

It sends data where others read it, so it is `communicate_external`: the policy gate checks `url` against
the organization's egress allowlist (and asks a person otherwise). What comes back was written outside,
so it taints the run. The call's idempotency key goes along as `Idempotency-Key`, for receivers that
deduplicate a request repeated after a crash; it is never retried here (a POST is not safe to repeat).
"""

from __future__ import annotations

import json
import time
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

from meshclaw.connectors.contract import AccountError, Accounts
from meshclaw.connectors.webhook.config import WebhookConfig
from meshclaw.connectors.webhook.signing import sign_timestamped
from meshclaw.tools import idempotency
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolError, ToolSpec
from meshclaw.tools.result_view import ResultView

RESPONSE_CHARS = 2000


# The status code; the response body is the other side's.
WEBHOOK_VIEW = ResultView(fields=frozenset({"status", "truncated"}))


class SendArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str = Field(description="The webhook account whose secret signs the request")
    url: str = Field(description="An http(s) URL the organization allows")
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    json_body: dict[str, Any] = Field(default_factory=dict, description="Sent as the JSON body")


def build(accounts: Accounts) -> list[ToolSpec]:
    async def send(args: SendArgs) -> dict[str, Any]:
        parts = urlsplit(args.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ToolError(f"'{args.url}' is not an http(s) URL")
        try:
            account = await accounts.get("webhook", args.account, WebhookConfig)
        except AccountError as exc:
            raise ToolError(str(exc)) from None
        config = account.config
        body = json.dumps(args.json_body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "MeshClaw-Webhook/1"}
        headers |= sign_timestamped(config.signing_secret.get_secret_value(), body, int(time.time()))
        key = idempotency.current_key()
        if key is not None:
            headers["Idempotency-Key"] = key
        try:
            async with httpx.AsyncClient(timeout=config.timeout_seconds, follow_redirects=False) as client:
                response = await client.request(args.method, args.url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise ToolError(f"{parts.hostname} did not answer within {config.timeout_seconds:g} s") from None
        except httpx.HTTPError as exc:
            raise ToolError(f"could not reach {parts.hostname}: {type(exc).__name__}") from None
        return {
            "status": response.status_code,
            "body": response.text[:RESPONSE_CHARS],
            "truncated": len(response.text) > RESPONSE_CHARS,
        }

    return [
        ToolSpec(
            name="webhook_send_request",
            description="Send a signed JSON request to a URL (e.g. trigger a CI pipeline or notify a system). "
            "Returns the status and the start of the response body.",
            effect=EffectClass.COMMUNICATE_EXTERNAL,
            args=SendArgs,
            function=send,
            scopes=("recipient_domains",),
            returns_untrusted=True,
            view=WEBHOOK_VIEW,
        )
    ]
