"""Events as database rows: column lists and value tuples, converted the way each backend stores them.

Usage ingestion must sustain tens of thousands of events per second, so the writer hands tuples straight
to the driver's `executemany` instead of going through SQLAlchemy's per-value bind processing (which
costs more than the insert itself). The conversions that processing would do live here, in one place:
SQLite gets timestamps as the naive-UTC text SQLAlchemy's DateTime stores there and JSON as text;
PostgreSQL gets aware datetimes and JSON text, which it casts to the `json` column. A test reads rows
written this way back through the ORM, so the formats cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from meshclaw.metering.events import ActivityEvent, OutcomeEvent, UsageEvent

USAGE_COLUMNS = (
    "event_id", "source", "started_at", "ended_at", "latency_ms", "status", "error", "provider", "operation",
    "requested_model", "model", "input_uncached", "cache_read", "cache_write", "output", "reasoning",
    "raw_usage", "cost_microusd", "price_id", "user_id", "team_id", "agent_id", "run_id", "api_key_id",
    "client", "initiator", "prompt_hash", "session_id", "attributes",
)  # fmt: skip
OUTCOME_COLUMNS = (
    "event_id", "type", "occurred_at", "source", "quantity", "accepted", "minutes_saved", "user_id",
    "team_id", "agent_id", "run_id", "client", "session_id", "attributes",
)  # fmt: skip
ACTIVITY_COLUMNS = (
    "event_id", "name", "occurred_at", "source", "user_id", "team_id", "agent_id", "client", "session_id",
    "attributes",
)  # fmt: skip

TimeFormat = Callable[[datetime], Any]


# Pieces of `sqlite_time`'s text, made once: "MM:SS." for each second of an hour, "000".."999".
_MINUTE_SECOND = [f"{minute:02d}:{second:02d}." for minute in range(60) for second in range(60)]
_THREE_DIGITS = [f"{value:03d}" for value in range(1000)]
_hours: dict[tuple[int, int, int, int], str] = {}  # "YYYY-MM-DD HH:" per hour seen


def sqlite_time(value: datetime) -> str:
    """The text SQLAlchemy's DateTime stores on SQLite: naive UTC, always with microseconds,
    "YYYY-MM-DD HH:MM:SS.ffffff".

    Runs twice per usage event; assembled from cached pieces, it costs about two thirds of
    `isoformat(sep=" ", timespec="microseconds")` (bench/RESULTS.md, 2026-12-02 04:00). A test compares
    the two on random times.
    """
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    hour = (value.year, value.month, value.day, value.hour)
    prefix = _hours.get(hour)
    if prefix is None:
        if len(_hours) > 100_000:  # a long import of old data; the hours of live traffic come back cheaply
            _hours.clear()
        prefix = _hours[hour] = f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:"
    micro = value.microsecond
    return (
        prefix
        + _MINUTE_SECOND[value.minute * 60 + value.second]
        + _THREE_DIGITS[micro // 1000]
        + _THREE_DIGITS[micro % 1000]
    )


def postgres_time(value: datetime) -> datetime:
    return value.astimezone(UTC)


def time_format(dialect_name: str) -> TimeFormat:
    return sqlite_time if dialect_name == "sqlite" else postgres_time


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _client(value: str | None) -> str | None:
    return value[:200] if value else None


def usage_values(
    event: UsageEvent, cost_microusd: int, price_id: int | None, at: TimeFormat
) -> tuple[Any, ...]:
    """The event's row in USAGE_COLUMNS order."""
    # Plain attribute reads: Python 3.11 specializes them, and they measured five times faster than one
    # operator.attrgetter of the same twenty fields (timeit: 0.3 vs 1.6 us).
    tokens, client = event.tokens, event.client
    return (
        event.event_id, event.source, at(event.started_at), at(event.ended_at), event.latency_ms, event.status,
        event.error[:2000] if event.error else None, event.provider, event.operation, event.requested_model,
        event.model, tokens.input_uncached, tokens.cache_read, tokens.cache_write, tokens.output,
        tokens.reasoning, _json(event.raw_usage), cost_microusd, price_id, event.user_id, event.team_id,
        event.agent_id, event.run_id, event.api_key_id, client[:200] if client else None, event.initiator,
        event.prompt_hash, event.session_id, _json(event.attributes),
    )  # fmt: skip


def outcome_values(event: OutcomeEvent, at: TimeFormat) -> tuple[Any, ...]:
    return (
        event.event_id, event.type, at(event.occurred_at), event.source, event.quantity, event.accepted,
        event.minutes_saved, event.user_id, event.team_id, event.agent_id, event.run_id, _client(event.client),
        event.session_id, _json(event.attributes),
    )  # fmt: skip


def activity_values(event: ActivityEvent, at: TimeFormat) -> tuple[Any, ...]:
    return (
        event.event_id, event.name, at(event.occurred_at), event.source, event.user_id, event.team_id,
        event.agent_id, _client(event.client), event.session_id, _json(event.attributes),
    )  # fmt: skip
