"""The write side of metering: one batch of events into their tables and the rollups, in one transaction.

Events are inserted with ON CONFLICT DO NOTHING on their unique `event_id`, and only the rows that were
really inserted are added to the rollups, so a replayed or retried event never counts twice. Rollups are
upserted with `count = count + excluded.count`, which is atomic per row on SQLite and PostgreSQL and so
stays right with several writer processes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from meshclaw.db.models import ActivityEventRow, OutcomeEventRow, OutcomeRollup, UsageEventRow, UsageRollup
from meshclaw.metering.events import ActivityEvent, OutcomeEvent, UsageEvent
from meshclaw.metering.prices import PriceBook

_CHUNK = 400
USAGE_DIMENSIONS = ("user_id", "team_id", "agent_id", "model", "client", "source", "initiator")
OUTCOME_DIMENSIONS = ("user_id", "team_id", "agent_id", "type", "source")
USAGE_SUMS = (
    "requests",
    "errors",
    "input_uncached",
    "cache_read",
    "cache_write",
    "output",
    "reasoning",
    "cost_microusd",
)
OUTCOME_SUMS = ("count", "quantity", "accepted", "rejected", "minutes_saved")


def _insert(session: Session, table: Any) -> Any:
    return (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(table)


def bucket_starts(at: datetime) -> tuple[datetime, datetime]:
    hour = at.replace(minute=0, second=0, microsecond=0)
    return hour, hour.replace(hour=0)


def usage_row(event: UsageEvent, prices: PriceBook) -> dict[str, Any]:
    price_id = None
    if event.cost_usd is not None:
        cost = round(event.cost_usd * 1_000_000)
    else:
        price = prices.price_at(event.model or event.requested_model, event.started_at)
        cost = price.cost_microusd(event.tokens) if price else 0
        price_id = price.id if price else None
    tokens = event.tokens
    return {
        "event_id": event.event_id,
        "source": event.source,
        "started_at": event.started_at,
        "ended_at": event.ended_at,
        "latency_ms": event.latency_ms,
        "status": event.status,
        "error": event.error[:2000] if event.error else None,
        "provider": event.provider,
        "operation": event.operation,
        "requested_model": event.requested_model,
        "model": event.model,
        "input_uncached": tokens.input_uncached,
        "cache_read": tokens.cache_read,
        "cache_write": tokens.cache_write,
        "output": tokens.output,
        "reasoning": tokens.reasoning,
        "raw_usage": event.raw_usage,
        "cost_microusd": cost,
        "price_id": price_id,
        "user_id": event.user_id,
        "team_id": event.team_id,
        "agent_id": event.agent_id,
        "run_id": event.run_id,
        "api_key_id": event.api_key_id,
        "client": (event.client or "")[:200] or None,
        "initiator": event.initiator,
        "prompt_hash": event.prompt_hash,
        "session_id": event.session_id,
        "attributes": event.attributes,
    }


def outcome_row(event: OutcomeEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "source": event.source,
        "quantity": event.quantity,
        "accepted": event.accepted,
        "minutes_saved": event.minutes_saved,
        "user_id": event.user_id,
        "team_id": event.team_id,
        "agent_id": event.agent_id,
        "run_id": event.run_id,
        "client": (event.client or "")[:200] or None,
        "session_id": event.session_id,
        "attributes": event.attributes,
    }


def activity_row(event: ActivityEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "name": event.name,
        "occurred_at": event.occurred_at,
        "source": event.source,
        "user_id": event.user_id,
        "team_id": event.team_id,
        "agent_id": event.agent_id,
        "client": (event.client or "")[:200] or None,
        "session_id": event.session_id,
        "attributes": event.attributes,
    }


def _insert_new(session: Session, model: Any, rows: list[dict[str, Any]]) -> set[str]:
    """Insert rows, skipping event ids already stored; return the ids that were new."""
    inserted: set[str] = set()
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        statement = (
            _insert(session, model)
            .values(chunk)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(model.event_id)
        )
        inserted.update(session.scalars(statement).all())
    return inserted


def _upsert_rollups(
    session: Session,
    model: Any,
    groups: dict[tuple[Any, ...], list[float]],
    dimensions: Sequence[str],
    sums: Sequence[str],
) -> None:
    rows = [
        {
            "bucket": key[0],
            "bucket_start": key[1],
            **dict(zip(dimensions, key[2:], strict=True)),
            **dict(zip(sums, values, strict=True)),
        }
        for key, values in groups.items()
    ]
    table: Table = model.__table__
    for start in range(0, len(rows), _CHUNK):
        statement = _insert(session, model).values(rows[start : start + _CHUNK])
        statement = statement.on_conflict_do_update(
            index_elements=["bucket", "bucket_start", *dimensions],
            set_={name: table.c[name] + statement.excluded[name] for name in sums},
        )
        session.execute(statement)


def _group(
    rows: list[dict[str, Any]],
    time_key: str,
    dimensions: Sequence[str],
    measure: Callable[[dict[str, Any]], list[float]],
) -> dict[tuple[Any, ...], list[float]]:
    groups: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0.0] * len(measure(rows[0])))
    for row in rows:
        hour, day = bucket_starts(row[time_key])
        dims = tuple(row[d] if row[d] is not None else (0 if d.endswith("_id") else "") for d in dimensions)
        values = measure(row)
        for key in (("hour", hour, *dims), ("day", day, *dims)):
            totals = groups[key]
            for index, value in enumerate(values):
                totals[index] += value
    return groups


def _usage_measure(row: dict[str, Any]) -> list[float]:
    return [
        1,
        1 if row["status"] != "ok" else 0,
        row["input_uncached"],
        row["cache_read"],
        row["cache_write"],
        row["output"],
        row["reasoning"],
        row["cost_microusd"],
    ]


def _outcome_measure(row: dict[str, Any]) -> list[float]:
    return [
        1,
        row["quantity"],
        1 if row["accepted"] is True else 0,
        1 if row["accepted"] is False else 0,
        row["minutes_saved"] or 0.0,
    ]


def write_batch(
    session: Session,
    *,
    usage: Sequence[UsageEvent],
    outcomes: Sequence[OutcomeEvent],
    activities: Sequence[ActivityEvent],
    prices: PriceBook,
) -> tuple[int, int, int]:
    """Store the events and update the rollups. Returns how many of each were new."""
    new_usage = new_outcomes = new_activities = 0
    if usage:
        rows = [usage_row(event, prices) for event in usage]
        inserted = _insert_new(session, UsageEventRow, rows)
        fresh = [row for row in rows if row["event_id"] in inserted]
        if fresh:
            groups = _group(fresh, "started_at", USAGE_DIMENSIONS, _usage_measure)
            _upsert_rollups(session, UsageRollup, groups, USAGE_DIMENSIONS, USAGE_SUMS)
        new_usage = len(fresh)
    if outcomes:
        rows = [outcome_row(event) for event in outcomes]
        inserted = _insert_new(session, OutcomeEventRow, rows)
        fresh = [row for row in rows if row["event_id"] in inserted]
        if fresh:
            groups = _group(fresh, "occurred_at", OUTCOME_DIMENSIONS, _outcome_measure)
            _upsert_rollups(session, OutcomeRollup, groups, OUTCOME_DIMENSIONS, OUTCOME_SUMS)
        new_outcomes = len(fresh)
    if activities:
        new_activities = len(
            _insert_new(session, ActivityEventRow, [activity_row(event) for event in activities])
        )
    return new_usage, new_outcomes, new_activities
