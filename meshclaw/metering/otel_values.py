"""Reading OTLP protobuf values: attributes into plain dicts, nanosecond times into datetimes, and the
deterministic event ids that make a resent export count once.

Ids are a hash of what identifies a record (its resource, its attributes, its time window), never of
random state, so an exporter's retry, or the same data sent again as JSON instead of protobuf, gives the
same ids and the writer ignores the repeats.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

Attributes = dict[str, Any]


def any_value(value: AnyValue) -> Any:
    """An OTLP AnyValue as a JSON-ready Python value (bytes as hex)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "bytes_value":
        return value.bytes_value.hex()
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    return None


def attributes(items: Iterable[KeyValue]) -> Attributes:
    return {item.key: any_value(item.value) for item in items}


def from_nanos(nanos: int) -> datetime:
    return datetime.fromtimestamp(nanos / 1e9, tz=UTC)


def number(value: Any) -> float | None:
    """A numeric attribute (exporters send some as strings, e.g. Claude Code's event attributes); None for
    anything else, a non-finite number included ("NaN", "Infinity": no count or cost can be one)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        parsed = float(value)
    elif isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return parsed if math.isfinite(parsed) else None


def count(value: Any) -> int:
    parsed = number(value)
    return max(0, int(parsed)) if parsed is not None else 0


def text(value: Any, limit: int = 200) -> str | None:
    """An attribute as text for a column, cut to `limit` characters (the model and name columns' width:
    PostgreSQL refuses longer values, and an exporter may send anything)."""
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)[:limit]


def event_id(kind: str, *parts: Any) -> str:
    """A stable 32-hex id for a record: `kind` plus the canonical JSON of what identifies it."""
    canonical = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str)
    return hashlib.blake2b(kind.encode() + b"\0" + canonical, digest_size=16).hexdigest()


def first(attrs: Mapping[str, Any], *names: str) -> Any:
    """The first of `names` present in `attrs` (conventions renamed attributes over time)."""
    for name in names:
        if name in attrs and attrs[name] not in (None, ""):
            return attrs[name]
    return None
