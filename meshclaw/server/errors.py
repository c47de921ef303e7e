"""Map errors to responses: one JSON shape for the API, and no stack traces or secrets anywhere.

The gateway and the web UI register their own shapes for their paths (OpenAI/Anthropic-style errors,
HTML pages); everything else gets `{"error": {"code", "message", "field"}}`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from meshclaw.errors import MeshclawError, RateLimitedError

log = logging.getLogger("meshclaw.server")

ErrorRenderer = Callable[[Request, int, str, str, str | None], Awaitable[Response] | Response]
"""(request, status, code, message, field) -> response, for one path prefix."""


def json_error(
    status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    body: dict[str, object] = {"code": code, "message": message}
    if field:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI, renderers: dict[str, ErrorRenderer]) -> None:
    """`renderers` maps a path prefix to its error renderer; the longest matching prefix wins."""
    ordered = sorted(renderers.items(), key=lambda item: -len(item[0]))

    async def render(
        request: Request,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        for prefix, renderer in ordered:
            if request.url.path.startswith(prefix):
                result = renderer(request, status, code, message, field)
                response = await result if isinstance(result, Awaitable) else result
                if headers:
                    response.headers.update(headers)
                return response
        return json_error(status, code, message, field, headers)

    @app.exception_handler(MeshclawError)
    async def on_meshclaw_error(request: Request, exc: MeshclawError) -> Response:
        headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, RateLimitedError) else None
        if exc.status >= 500:
            log.error("request failed: %s", exc.message)
        return await render(request, exc.status, exc.code, exc.message, exc.field, headers)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
        field = ".".join(loc) or None
        message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
        return await render(request, 422, "invalid_input", message, field)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return await render(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(ClientDisconnect)
    async def on_client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client closed the connection before its body arrived (an exporter that timed out under load,
        # a stopped CLI): nothing was read or recorded, and nobody is left to answer. Not a server error.
        log.info("the client left before its request body arrived: %s %s", request.method, request.url.path)
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return await render(request, 500, "internal_error", "internal error; the server log has details")
