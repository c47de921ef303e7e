"""Errors of the OTLP receivers, and their responses.

OTLP/HTTP asks for a `google.rpc.Status` in the request's own encoding. JSON requests get its JSON form;
protobuf requests get its two fields encoded by hand (code = 1, message = 2), which spares a runtime
dependency on googleapis-common-protos for one tiny message.
"""

from __future__ import annotations

import orjson
from fastapi import Request
from starlette.responses import Response

from meshclaw.errors import MeshclawError

OTLP_PATHS = ("/v1/metrics", "/v1/logs", "/v1/traces")
PROTOBUF = "application/x-protobuf"

_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 413: 8, 415: 3, 422: 3, 429: 8}


class MalformedPayloadError(MeshclawError):
    status = 400
    code = "malformed_payload"


class PayloadTooLargeError(MeshclawError):
    status = 413
    code = "body_too_large"


class UnsupportedMediaTypeError(MeshclawError):
    status = 415
    code = "unsupported_media_type"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def status_protobuf(code: int, message: str) -> bytes:
    encoded = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(encoded)) + encoded


def render_otlp_error(request: Request, status: int, code: str, message: str, field: str | None) -> Response:
    grpc_code = _GRPC_CODES.get(status, 13)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() == PROTOBUF:
        return Response(status_protobuf(grpc_code, message), status_code=status, media_type=PROTOBUF)
    body = orjson.dumps({"code": grpc_code, "message": message, "details": [], "error": code})
    return Response(body, status_code=status, media_type="application/json")


OTLP_ERROR_RENDERERS = dict.fromkeys(OTLP_PATHS, render_otlp_error)
"""For `install_error_handlers`: OTLP paths answer errors as `google.rpc.Status`."""
