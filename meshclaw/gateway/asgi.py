"""The gateway's front door: raw ASGI, consulted by the server app before FastAPI sees a request.

Requests for the gateway's paths are answered here without FastAPI's per-request wrapping (telemetry,
body limit), routing, dependencies or middleware, which together cost more per request than the gateway's
own work. Every other path, including the OTLP receivers at /v1/metrics, /v1/logs and /v1/traces, goes
to the FastAPI app untouched (`handles()` says which).
"""

from __future__ import annotations

import logging
import time
from urllib.parse import unquote

from starlette.types import Message, Receive, Scope, Send

from meshclaw.gateway.apis import APIS
from meshclaw.gateway.calls import model_call
from meshclaw.gateway.count_tokens import PATH as COUNT_TOKENS
from meshclaw.gateway.count_tokens import count_tokens
from meshclaw.gateway.errors import GatewayError, Style, error_body
from meshclaw.gateway.models import models_body
from meshclaw.gateway.request import ClientGone, read_body, read_headers
from meshclaw.gateway.runtime import Gateway

log = logging.getLogger("meshclaw.gateway")


_JSON = (b"content-type", b"application/json")


async def _answer(
    send: Send, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    length = (b"content-length", str(len(body)).encode())
    await send({"type": "http.response.start", "status": status, "headers": [_JSON, length, *headers]})
    await send({"type": "http.response.body", "body": body})


class GatewayFront:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    @staticmethod
    def handles(path: str) -> bool:
        return path in APIS or path == COUNT_TOKENS or path == "/v1/models" or path.startswith("/v1/models/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        api = APIS.get(scope["path"])
        if api is not None:
            await self._model_call(api.style, scope, receive, send)
        elif scope["path"] == COUNT_TOKENS:
            await self._count_tokens(scope, receive, send)
        else:
            await self._models(scope, receive, send)

    async def _model_call(self, style: Style, scope: Scope, receive: Receive, send: Send) -> None:
        api = APIS[scope["path"]]
        started = time.perf_counter()
        status = 0

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            if scope["method"] != "POST":
                raise GatewayError(405, f"use POST for {api.path}", code="method_not_allowed")
            request = read_headers(scope)
            await read_body(request, receive, max_bytes=self.gateway.max_body_bytes)
            await model_call(self.gateway, api, request, receive, tracked)
        except GatewayError as error:
            body = error_body(style, error.status, error.message, error.code)
            await _answer(tracked, error.status, body, error.headers)
        except ClientGone:
            status = 499
        except Exception:
            log.exception("gateway call to %s failed", api.path)
            if status == 0:  # once an answer has started, the connection can only be closed
                body = error_body(
                    style, 500, "internal error in the gateway; see the server log", "internal_error"
                )
                await _answer(tracked, 500, body)
        finally:
            self.gateway.metrics.observe(api.name, status, time.perf_counter() - started)

    async def _count_tokens(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if scope["method"] != "POST":
                raise GatewayError(405, f"use POST for {COUNT_TOKENS}", code="method_not_allowed")
            request = read_headers(scope)
            await read_body(request, receive, max_bytes=self.gateway.max_body_bytes)
            await count_tokens(self.gateway, request, send)
        except GatewayError as error:
            body = error_body("anthropic", error.status, error.message, error.code)
            await _answer(send, error.status, body, error.headers)
        except ClientGone:
            return

    async def _models(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = read_headers(scope)
        style: Style = "anthropic" if request.anthropic_version else "openai"
        try:
            if scope["method"] != "GET":
                raise GatewayError(405, "use GET for /v1/models", code="method_not_allowed")
            await self.gateway.keys.authenticate(request.secret)
            model_id = (
                unquote(scope["path"].removeprefix("/v1/models/")) if scope["path"] != "/v1/models" else None
            )
            body = models_body(
                self.gateway.routes(), anthropic=style == "anthropic", model_id=model_id or None
            )
        except GatewayError as error:
            await _answer(
                send, error.status, error_body(style, error.status, error.message, error.code), error.headers
            )
            return
        await _answer(send, 200, body)
