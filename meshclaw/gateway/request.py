"""What the gateway reads from a client's request: a few headers, found in one pass, and the body, read
with a size limit (413 before reading when Content-Length already says it is too big)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Receive, Scope

from meshclaw.gateway.errors import GatewayError


class ClientGone(Exception):
    """The client disconnected before its request body arrived."""


@dataclass(slots=True)
class ClientRequest:
    secret: str | None = None
    """The MeshClaw key from `Authorization: Bearer` or `x-api-key`."""
    user_agent: str | None = None
    anthropic_version: str | None = None
    anthropic_beta: str | None = None
    content_length: int | None = None
    body: bytes = b""


def read_headers(scope: Scope) -> ClientRequest:
    request = ClientRequest()
    bearer: str | None = None
    api_key: str | None = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                bearer = token.strip()
        elif name == b"x-api-key":
            api_key = value.decode("latin-1").strip() or None
        elif name == b"user-agent":
            request.user_agent = value.decode("latin-1")[:200]
        elif name == b"content-length":
            # At most 19 digits: int() refuses over 4,300, and no body is longer than 19 digits say.
            request.content_length = int(value) if value.isdigit() and len(value) <= 19 else None
        elif name == b"anthropic-version":
            request.anthropic_version = value.decode("latin-1")
        elif name == b"anthropic-beta":
            request.anthropic_beta = value.decode("latin-1")
    request.secret = bearer or api_key
    return request


async def read_body(request: ClientRequest, receive: Receive, *, max_bytes: int) -> None:
    if request.content_length is not None and request.content_length > max_bytes:
        raise GatewayError(
            413, f"the request body is larger than {max_bytes} bytes", code="request_too_large"
        )
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientGone
    body: bytes = message.get("body", b"")
    # A body without Content-Length (chunked upload) may arrive whole in this first message when the
    # server had buffered all of it, so the limit is checked here too, not only on later parts.
    _check_size(len(body), max_bytes)
    if not message.get("more_body"):
        request.body = body
        return
    parts, size = [body], len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        _check_size(size, max_bytes)
        parts.append(chunk)
        if not message.get("more_body"):
            request.body = b"".join(parts)
            return


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise GatewayError(
            413, f"the request body is larger than {max_bytes} bytes", code="request_too_large"
        )
