"""Request bodies of the OTLP receivers into protobuf messages: gzip, protobuf or OTLP JSON.

OTLP JSON differs from protobuf's canonical JSON in one way that matters: trace and span ids are hex,
not base64, so they are converted before parsing. Unknown fields are ignored, as the OTLP spec asks of
receivers. The decompressed size is capped (a small gzip body can expand enormously).
"""

from __future__ import annotations

import base64
import binascii
import zlib
from typing import Any, TypeVar

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from meshclaw.ingest.errors import (
    PROTOBUF,
    MalformedPayloadError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)

M = TypeVar("M", bound=Message)
JSON = "application/json"
_HEX_ID_KEYS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})


def media_type(content_type: str | None) -> str:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind not in (PROTOBUF, JSON):
        raise UnsupportedMediaTypeError(
            f"unsupported Content-Type '{kind or 'none'}'; send {PROTOBUF} or {JSON} (OTLP/HTTP)"
        )
    return kind


def decompress(body: bytes, encoding: str | None, *, limit: int) -> bytes:
    coding = (encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return body
    if coding != "gzip":
        raise UnsupportedMediaTypeError(f"unsupported Content-Encoding '{coding}'; use gzip or none")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise MalformedPayloadError(f"the gzip body is corrupt ({exc}); send valid gzip") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise PayloadTooLargeError(
            f"the decompressed body is larger than {limit} bytes; export smaller batches"
        )
    if not inflater.eof:
        raise MalformedPayloadError("the gzip body is truncated; send the whole compressed body")
    return data


def _hex_ids_to_base64(value: Any) -> Any:
    if isinstance(value, dict):
        converted = {}
        for key, item in value.items():
            if key in _HEX_ID_KEYS and isinstance(item, str) and item:
                try:
                    item = base64.b64encode(bytes.fromhex(item)).decode()
                except ValueError:
                    raise MalformedPayloadError(
                        f"{key} '{item[:40]}' is not hex (OTLP JSON ids are hex)"
                    ) from None
            else:
                item = _hex_ids_to_base64(item)
            converted[key] = item
        return converted
    if isinstance(value, list):
        return [_hex_ids_to_base64(item) for item in value]
    return value


def parse(message: M, body: bytes, kind: str) -> M:
    """Fill `message` from `body` in the encoding `kind`, or raise a 400 that says what is wrong."""
    if kind == PROTOBUF:
        try:
            message.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise MalformedPayloadError(f"the body is not a valid OTLP protobuf message ({exc})") from None
        return message
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedPayloadError(f"the body is not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise MalformedPayloadError('the JSON body must be an object, e.g. {"resourceMetrics": [...]}')
    try:
        json_format.ParseDict(_hex_ids_to_base64(document), message, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, ValueError, TypeError) as exc:
        raise MalformedPayloadError(f"the JSON body is not a valid OTLP message: {exc}") from None
    except RecursionError:  # orjson reads 1,024 levels; walking them in Python can pass the recursion limit
        raise MalformedPayloadError("the JSON body is nested too deeply to be an OTLP message") from None
    return message


def encode(message: Message, kind: str) -> bytes:
    if kind == PROTOBUF:
        serialized: bytes = message.SerializeToString()
        return serialized
    encoded: bytes = orjson.dumps(json_format.MessageToDict(message))
    return encoded
