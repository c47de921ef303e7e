"""What mapping one OTLP export produces, and what it needs from the caller.

Mapping is pure except for three hooks the caller provides: who a record belongs to (`Identify`, which
knows MeshClaw's users), the cumulative-counter memory, and the per-client signal memory. Events are
collected first and recorded by the caller only once the whole export has been mapped, so a payload that
fails half-way records nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from meshclaw.metering.events import ActivityEvent, OutcomeEvent, UsageEvent
from meshclaw.metering.otel_counters import CumulativeCounters
from meshclaw.metering.otel_signals import UsageSignals
from meshclaw.metering.otel_values import number

SENSITIVE_FRAGMENTS = (
    "prompt",
    "body",
    "parameters",
    "content",
    "text",
    "message",
    "arguments",
    "args",
    "command",
    "completion",
    "instructions",
    "email",
    "input",
    "output",
    "response",
    "query",
)
"""Keys whose string values may hold what a person typed or a model wrote. Their numbers (lengths,
token counts) are kept; their text never is."""

ALWAYS_TEXT = frozenset(
    {"model", "session.id", "prompt.id", "prompt_id", "query_source", "event.name", "tool_name", "decision"}
)


class Unattributable(Exception):
    """A record names a person MeshClaw cannot (or this key may not) attribute usage to."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Identify = Callable[[Mapping[str, Any]], int | None]
"""Attributes of one record (resource merged with the record's own) -> MeshClaw user id; raises
`Unattributable` when the record names someone unknown."""


@dataclass(kw_only=True)
class MappingContext:
    identify: Identify
    counters: CumulativeCounters
    signals: UsageSignals
    api_key_id: int | None = None


@dataclass
class Mapped:
    usage: list[UsageEvent] = field(default_factory=list)
    outcomes: list[OutcomeEvent] = field(default_factory=list)
    activities: list[ActivityEvent] = field(default_factory=list)
    rejected: int = 0
    """Records (data points, log records, spans) that could not be attributed."""
    reasons: list[str] = field(default_factory=list)

    def reject(self, reason: str) -> None:
        self.rejected += 1
        if reason not in self.reasons and len(self.reasons) < 5:
            self.reasons.append(reason)

    @property
    def message(self) -> str:
        return "; ".join(self.reasons)


def safe_attributes(attrs: Mapping[str, Any], *, limit: int = 200) -> dict[str, Any]:
    """Attributes worth keeping on an event: numbers and booleans, and short strings from keys that
    cannot hold prompt, code or response text. Nested values are dropped."""
    kept: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, bool | int | float):
            kept[key] = value
        elif isinstance(value, str):
            lowered = key.lower()
            if key in ALWAYS_TEXT or not any(part in lowered for part in SENSITIVE_FRAGMENTS):
                kept[key] = value[:limit]
            elif (amount := number(value)) is not None:
                kept[key] = int(amount) if amount.is_integer() else amount  # e.g. prompt_length as text
    return kept


def client_of(resource: Mapping[str, Any]) -> str | None:
    name = resource.get("service.name")
    return str(name)[:200] if name else None


def session_of(attrs: Mapping[str, Any]) -> str | None:
    for key in ("session.id", "gen_ai.conversation.id", "conversation.id"):
        value = attrs.get(key)
        if value:
            return str(value)[:200]
    return None
