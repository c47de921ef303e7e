"""Errors the gateway answers itself, in the shape of the API the client speaks.

OpenAI SDKs read `{"error": {"message", "type", "code"}}`; Anthropic SDKs read
`{"type": "error", "error": {"type", "message"}}`. Messages say what to do and never contain a key.
"""

from __future__ import annotations

from typing import Literal

import orjson

Style = Literal["openai", "anthropic"]

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
}


class GatewayError(Exception):
    """Answer `status` with `message`; `code` is OpenAI's machine-readable code (e.g. model_not_found)."""

    def __init__(
        self, status: int, message: str, *, code: str, headers: tuple[tuple[bytes, bytes], ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers


def error_body(style: Style, status: int, message: str, code: str) -> bytes:
    if style == "anthropic":
        kind = _ANTHROPIC_TYPES.get(status, "api_error")
        return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})
    kind = _OPENAI_TYPES.get(status, "api_error")
    return orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})
