"""The database side of OTLP ingest's memory: the last recorded cumulative reading of a series, and the
best usage signal recorded for a user and client. Used only on first sight after a start (the memory
is kept in process), so these scans are rare; each is bounded by an indexed user/time range."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from meshclaw.db.engine import Database
from meshclaw.db.models import OutcomeEventRow, UsageEventRow
from meshclaw.metering.otel_counters import Reading
from meshclaw.metering.otel_signals import RANK, Signal
from meshclaw.metering.otel_values import from_nanos

_SCAN_LIMIT = 2000


def _reading(attributes: Any, series: str) -> Reading | None:
    if not isinstance(attributes, dict):
        return None
    readings = attributes.get("otel.cumulative")
    if not isinstance(readings, dict) or series not in readings:
        return None
    start_ns, time_ns, value = readings[series]
    return Reading(int(start_ns), int(time_ns), float(value))


def last_reading(db: Database, series: str, user_id: int | None, start_ns: int) -> Reading | None:
    since = from_nanos(start_ns) - timedelta(seconds=1)
    usage = (
        select(UsageEventRow.attributes)
        .where(
            UsageEventRow.source == "otlp",
            UsageEventRow.user_id == user_id if user_id is not None else UsageEventRow.user_id.is_(None),
            UsageEventRow.started_at >= since,
            UsageEventRow.operation == "aggregate",
        )
        .order_by(UsageEventRow.id.desc())
        .limit(_SCAN_LIMIT)
    )
    outcomes = (
        select(OutcomeEventRow.attributes)
        .where(
            OutcomeEventRow.source == "otlp",
            OutcomeEventRow.user_id == user_id if user_id is not None else OutcomeEventRow.user_id.is_(None),
            OutcomeEventRow.occurred_at >= since,
        )
        .order_by(OutcomeEventRow.id.desc())
        .limit(_SCAN_LIMIT)
    )
    best: Reading | None = None
    with db.session() as session:
        for statement in (usage, outcomes):
            for attributes in session.scalars(statement):
                found = _reading(attributes, series)
                if found is not None and (best is None or found.time_ns > best.time_ns):
                    best = found
    return best


def best_signal(db: Database, user_id: int | None, client: str | None) -> Signal | None:
    statement = (
        select(UsageEventRow.attributes)
        .where(
            UsageEventRow.source == "otlp",
            UsageEventRow.user_id == user_id if user_id is not None else UsageEventRow.user_id.is_(None),
            UsageEventRow.client == client if client is not None else UsageEventRow.client.is_(None),
        )
        .order_by(UsageEventRow.id.desc())
        .limit(_SCAN_LIMIT)
    )
    best: Signal | None = None
    with db.session() as session:
        for attributes in session.scalars(statement):
            signal = attributes.get("otel.signal") if isinstance(attributes, dict) else None
            if signal in RANK and (best is None or RANK[signal] < RANK[best]):
                best = signal
    return best
