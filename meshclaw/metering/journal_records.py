"""Events as crash-journal lines: a flat JSON array per event, `[kind, field, field, ...]`.

The journal line is written on the request path for every model call, so its encoding is a hot spot.
orjson serializes a slots dataclass field by field through attribute look-ups (about 8 us for a
UsageEvent on the reference machine); a flat tuple in a fixed field order costs under half of that. Field
order is the dataclass's own, so adding a field at the end keeps old lines readable: a shorter line leaves
the new fields at their defaults. Lines in the older `{"kind": ..., "event": {...}}` form (written before
this encoding) are still read, so a journal left by an older version replays after an upgrade.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

import orjson

from meshclaw.metering.events import ActivityEvent, OutcomeEvent, TokenBuckets, UsageEvent

_USAGE = tuple(f.name for f in fields(UsageEvent))
_OUTCOME = tuple(f.name for f in fields(OutcomeEvent))
_ACTIVITY = tuple(f.name for f in fields(ActivityEvent))
_TOKENS = tuple(f.name for f in fields(TokenBuckets))
_TIMES = {"started_at", "ended_at", "occurred_at"}

Event = UsageEvent | OutcomeEvent | ActivityEvent


def encode_usage(e: UsageEvent) -> bytes:
    t = e.tokens
    return orjson.dumps(
        ("u", e.event_id, e.source, e.started_at, e.ended_at, e.status, e.error, e.provider, e.operation,
         e.requested_model, e.model, (t.input_uncached, t.cache_read, t.cache_write, t.output, t.reasoning),
         e.raw_usage, e.cost_usd, e.user_id, e.team_id, e.agent_id, e.run_id, e.api_key_id, e.client,
         e.initiator, e.prompt_hash, e.session_id, e.attributes)
    ) + b"\n"  # fmt: skip


def encode_other(kind: str, event: OutcomeEvent | ActivityEvent) -> bytes:
    """Outcomes and activities are rare next to usage; the generic field walk is fast enough for them."""
    names = _OUTCOME if kind == "o" else _ACTIVITY
    return orjson.dumps((kind, *(getattr(event, name) for name in names))) + b"\n"


_INT64 = range(-(2**63), 2**63)


_MAX_DEPTH = 32
"""How deep a free-form field may nest once made encodable (orjson encodes at most 254 levels; a usage
object has two or three)."""
TOO_DEEP = "[nested too deeply; not kept]"


def make_encodable(event: Event) -> None:
    """After an encoding failed (`TypeError`): keep what JSON cannot carry here in the event's free-form
    fields (`raw_usage`, `attributes`; an integer past 64 bits from an upstream or an OTLP export) as text,
    and what nests past `_MAX_DEPTH` levels as `TOO_DEEP`, in place, so the event encodes. The recorder
    calls it only then: the normal path pays nothing."""
    if isinstance(event, UsageEvent) and event.raw_usage is not None:
        event.raw_usage = _jsonable(event.raw_usage)
    if event.attributes is not None:
        event.attributes = _jsonable(event.attributes)


def _jsonable(value: Any, depth: int = 0) -> Any:
    if isinstance(value, dict | list | tuple) and depth >= _MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, dict):
        return {str(key): _jsonable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item, depth + 1) for item in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return value if value in _INT64 else str(value)
    return str(value)


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def _build(cls: type[Event], names: tuple[str, ...], values: list[Any]) -> Event:
    # zip stops at the shorter side: an older, shorter line leaves newer fields at their defaults.
    data = dict(zip(names, values, strict=False))
    if isinstance(data.get("tokens"), list):
        data["tokens"] = dict(zip(_TOKENS, data["tokens"], strict=False))
    return _build_named(cls, data)


def decode(record: object) -> Event | None:
    """Rebuild an event from a parsed journal line (either form); None for anything unrecognized."""
    if isinstance(record, list) and record:
        kind, values = record[0], record[1:]
        if kind == "u":
            return _build(UsageEvent, _USAGE, values)
        if kind == "o":
            return _build(OutcomeEvent, _OUTCOME, values)
        if kind == "a":
            return _build(ActivityEvent, _ACTIVITY, values)
        return None
    if isinstance(record, dict):  # the older form
        kind, data = record.get("kind"), record.get("event")
        cls = {"usage": UsageEvent, "outcome": OutcomeEvent, "activity": ActivityEvent}.get(str(kind))
        if cls is None or not isinstance(data, dict):
            return None
        return _build_named(cls, data)
    return None


def _build_named(cls: type[Event], data: dict[str, Any]) -> Event:
    data = {name: (_time(value) if name in _TIMES else value) for name, value in data.items()}
    if isinstance(data.get("tokens"), dict):
        data["tokens"] = TokenBuckets(**data["tokens"])
    return cls(**data)
