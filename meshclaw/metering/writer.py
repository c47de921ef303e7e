"""The write side of metering: one batch of events into their tables and the rollups, in one transaction.

Idempotence: an event whose `event_id` is already stored is skipped, and only events really inserted are
added to the rollups, so a replayed or retried batch never counts twice. For outcomes and activities the
writer first looks up which ids of the batch exist (one query joining the ids, passed as one JSON or
PostgreSQL array, to the unique index), then inserts the rest with `ON CONFLICT (event_id) DO NOTHING` as
a second guard. Duplicates only arise from replaying a journal or retrying a batch whose commit outcome was
unknown, and the same event is never in two writers' hands at once (a journal segment is locked by its
writer), so the look-up is exact.

Usage (the bulk of the events) needs no look-up. On SQLite it is inserted with `ON CONFLICT (event_id) DO
NOTHING` and SQLite says, per statement, how many rows went in and the rowid of the last; that is the
whole chunk except on a replay or retry, and then the rowid range names the rows inserted
(`_insert_new_sqlite`). On PostgreSQL, COPY, then one statement inserts with `ON CONFLICT (event_id) DO
NOTHING` and rolls up exactly the rows it inserted (`postgres_usage.py`).

Rollups are upserted with `value = value + excluded.value`, atomic per row on SQLite and PostgreSQL, so
they stay right with several writer processes. Each day a batch adds to gets its `rollup_days` version
raised in the same transaction, so readers that keep sums of the rollups know which days moved on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import chain
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy.orm import Session

from meshclaw.db.models import ActivityEventRow, OutcomeEventRow, OutcomeRollup, UsageEventRow, UsageRollup
from meshclaw.db.models.metering import RollupDay
from meshclaw.metering.events import ActivityEvent, OutcomeEvent, UsageEvent
from meshclaw.metering.postgres_usage import store_usage_rows
from meshclaw.metering.prices import PriceBook
from meshclaw.metering.rows import (
    ACTIVITY_COLUMNS,
    OUTCOME_COLUMNS,
    USAGE_COLUMNS,
    TimeFormat,
    activity_values,
    outcome_values,
    postgres_time,
    sqlite_time,
    time_format,
    usage_values,
)

_MAX_PARAMETERS = 30_000  # per statement; SQLite allows 32,766 and PostgreSQL 65,535
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


def bucket_starts(at: datetime) -> tuple[datetime, datetime]:
    hour = at.replace(minute=0, second=0, microsecond=0)
    return hour, hour.replace(hour=0)


def _existing_ids(session: Session, table: str, ids: list[str]) -> set[str]:
    """The ids among `ids` already stored in `table`."""
    connection = session.connection()
    found: set[str] = set()
    if connection.dialect.name == "postgresql":
        # One array parameter, joined through the unique index. An `IN` list of hundreds of parameters
        # can be planned as a sequential scan per query while the table's statistics are young.
        # Table names are this module's constants, never input.
        statement = (
            f"SELECT t.event_id FROM unnest(%s::varchar[]) AS i(id) JOIN {table} t ON t.event_id = i.id"  # noqa: S608
        )
        found.update(row[0] for row in connection.exec_driver_sql(statement, (ids,)))
        return found
    # One JSON array parameter, walked by json_each and joined through the unique index (CROSS JOIN keeps
    # json_each the outer loop). `IN (?, ?, ...)` lists of 900 bound ids cost 1.0-2.1 us CPU per id, this
    # 0.3-0.6 (bench/RESULTS.md, 2026-12-02 04:00), and its work is SQLite's, which runs without the GIL.
    statement = f"SELECT t.event_id FROM json_each(?) AS i CROSS JOIN {table} AS t ON t.event_id = i.value"  # noqa: S608
    found.update(row[0] for row in connection.exec_driver_sql(statement, (orjson.dumps(ids).decode(),)))
    return found


def _execute_chunked(
    session: Session, head: str, columns: int, rows: list[tuple[Any, ...]], tail: str
) -> None:
    """`head VALUES (...), (...), ... tail` on SQLite, as many rows per statement as its parameter limit
    allows; `executemany` on PostgreSQL.

    On SQLite, one multi-row statement per chunk rather than `executemany`'s one per row: besides fewer trips into
    the driver, on SQLite this matters for concurrency. The driver releases Python's GIL around each
    statement step, and one step per row makes the writer thread ping-pong the GIL with the threads
    recording events (each hand-back can wait a whole switch interval); one step per chunk lets SQLite's
    work run in parallel with theirs.
    """
    if not rows:
        return  # (an empty parameter list would run the statement once, without parameters)
    connection = session.connection()
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    group = "(" + ", ".join([marker] * columns) + ")"
    if connection.dialect.name == "postgresql":
        # psycopg sends `executemany` as one pipeline of a prepared statement, which PostgreSQL handles far
        # better than planning one statement with tens of thousands of parameters.
        connection.exec_driver_sql(f"{head} VALUES {group} {tail}", rows)
        return
    for statement, parameters, _ in _sqlite_chunks(head, group, columns, rows, tail):
        connection.exec_driver_sql(statement, parameters)


def _sqlite_chunks(
    head: str, group: str, columns: int, rows: list[tuple[Any, ...]], tail: str
) -> Iterator[tuple[str, tuple[Any, ...], list[tuple[Any, ...]]]]:
    """`head VALUES group, group, ... tail` per chunk of rows, as many as SQLite's parameter limit allows:
    the statement, its flattened parameters and the chunk's rows."""
    per_chunk = max(1, _MAX_PARAMETERS // columns)
    for start in range(0, len(rows), per_chunk):
        chunk = rows[start : start + per_chunk]
        statement = f"{head} VALUES {', '.join([group] * len(chunk))} {tail}"
        # chain.from_iterable flattens in C; a generator here was 7% of the writer's time (cProfile).
        yield statement, tuple(chain.from_iterable(chunk)), chunk


def _insert_new_sqlite(
    session: Session, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """Insert the rows (event_id first) with `ON CONFLICT (event_id) DO NOTHING`, as many per statement as
    `_execute_chunked` would; return those really inserted, each event once, in order.

    After each statement SQLite reports `changes()` (rows it inserted) and `last_insert_rowid()`. When
    every row of the chunk went in, which is the rule, nothing more is asked: this replaces looking the
    batch's ids up before inserting (0.6-1 us per event). Otherwise the inserted rows are the rowid range
    (last - changes, last]: rowids of an INTEGER PRIMARY KEY without AUTOINCREMENT are the table's largest
    plus one, and no other writer can insert between this transaction's first write and its commit.
    """
    if not rows:
        return []
    connection = session.connection()
    group = "(" + ", ".join(["?"] * len(columns)) + ")"
    # Table and column names are this module's constants, never input; values go as driver parameters.
    head = f"INSERT INTO {table} ({', '.join(columns)})"
    inserted: list[tuple[Any, ...]] = []
    chunks = _sqlite_chunks(head, group, len(columns), rows, "ON CONFLICT (event_id) DO NOTHING")
    for statement, parameters, chunk in chunks:
        connection.exec_driver_sql(statement, parameters)
        changes, last = connection.exec_driver_sql("SELECT changes(), last_insert_rowid()").one()
        if changes == len(chunk):
            inserted.extend(chunk)
            continue
        if changes == 0:
            continue
        range_ = (last - changes, last)
        # Table name: this module's constant, never input.
        statement = f"SELECT event_id FROM {table} WHERE id > ? AND id <= ?"  # noqa: S608
        ids = {event_id for (event_id,) in connection.exec_driver_sql(statement, range_)}
        seen: set[str] = set()
        for row in chunk:  # an event twice in the chunk was inserted once: keep its first copy
            if row[0] in ids and row[0] not in seen:
                seen.add(row[0])
                inserted.append(row)
    return inserted


def _insert_rows(session: Session, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    # Table and column names are this module's constants, never input; values go as driver parameters.
    head = f"INSERT INTO {table} ({', '.join(columns)})"
    _execute_chunked(session, head, len(columns), rows, "ON CONFLICT (event_id) DO NOTHING")


def _new_only(session: Session, model: Any, events: Sequence[Any]) -> list[Any]:
    """The events not stored yet, each once (a batch can hold an event twice if it was recorded twice)."""
    seen = _existing_ids(session, model.__tablename__, [event.event_id for event in events])
    fresh = []
    for event in events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            fresh.append(event)
    return fresh


# An hour's bucket_start and its day's, as the driver takes them, from whatever key names the UTC hour.
BucketStarts = Callable[[Any], tuple[Any, Any]]


def _utc_hour(at: datetime) -> tuple[int, int, int, int]:
    """The UTC hour `at` falls in, as a key for `_Sums.add`; `_datetime_starts` reads it back."""
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)  # buckets are UTC hours and days
    return (at.year, at.month, at.day, at.hour)


def _datetime_starts(at: TimeFormat) -> BucketStarts:
    def starts(hour: tuple[int, int, int, int]) -> tuple[Any, Any]:
        start = datetime(*hour, tzinfo=UTC)
        return at(start), at(start.replace(hour=0))

    return starts


def _text_starts(hour: str) -> tuple[str, str]:
    """From "YYYY-MM-DD HH", the first 13 characters of a stored SQLite time (`rows.sqlite_time`)."""
    return hour + ":00:00.000000", hour[:10] + " 00:00:00.000000"


class _Sums:
    """Per-(hour, dimensions) sums of one batch, expanded into hour and day rollup rows at the end.

    The per-event work is one dictionary look-up and one append (this runs for every event at tens of
    thousands per second); the columns are summed once per group at the end, and a batch usually spans
    one or two hours, so the expansion into days is cheap.
    """

    def __init__(self) -> None:
        self.by_hour: dict[tuple[Any, ...], list[Sequence[float]]] = {}

    def add(self, hour: Any, dims: tuple[Any, ...], values: Sequence[float]) -> None:
        """Add one event's values; `hour` names its UTC hour (`_utc_hour`, or the stored time's first 13
        characters on SQLite)."""
        key = (hour, dims)
        members = self.by_hour.get(key)
        if members is None:
            self.by_hour[key] = [values]
        else:
            members.append(values)

    def rows(self, starts: BucketStarts) -> dict[tuple[Any, ...], list[Any]]:
        """{(bucket, bucket_start, *dims): sums} for the hour and the day buckets, the starts as the driver
        takes them."""
        groups: dict[tuple[Any, ...], list[Any]] = {}
        for (hour, dims), members in self.by_hour.items():
            values = [sum(column) for column in zip(*members, strict=True)]
            start, day_start = starts(hour)
            groups[("hour", start, *dims)] = values
            day_key = ("day", day_start, *dims)
            previous = groups.get(day_key)
            groups[day_key] = (
                values if previous is None else [a + b for a, b in zip(previous, values, strict=True)]
            )
        return groups


def _upsert_rollups(
    session: Session,
    table: str,
    groups: dict[tuple[Any, ...], list[Any]],
    dimensions: Sequence[str],
    sums: Sequence[str],
) -> None:
    """Add the groups' sums to their rollup rows, creating the rows that do not exist yet."""
    if not groups:
        return
    key = ("bucket", "bucket_start", *dimensions)
    columns = (*key, *sums)
    additions = ", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in sums)
    # Names are this module's constants, never input; values go as driver parameters.
    head = f"INSERT INTO {table} ({', '.join(columns)})"
    rows = [(*group, *values) for group, values in groups.items()]
    _execute_chunked(
        session, head, len(columns), rows, f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {additions}"
    )


def _touch_days(session: Session, groups: dict[tuple[Any, ...], list[Any]]) -> None:
    """Raise the `rollup_days` version of each day the groups add to (see `RollupDay`)."""
    days = sorted({start for bucket, start, *_ in groups if bucket == "day"})
    if not days:
        return
    _execute_chunked(
        session,
        f"INSERT INTO {RollupDay.__tablename__} (day, version)",
        2,
        [(day, 1) for day in days],
        f"ON CONFLICT (day) DO UPDATE SET version = {RollupDay.__tablename__}.version + 1",
    )


def _usage_row(event: UsageEvent, prices: PriceBook, at: TimeFormat) -> tuple[Any, ...]:
    """The event's row, priced at the price in force when the call started (unless its source said)."""
    if event.cost_usd is not None:
        return usage_values(event, round(event.cost_usd * 1_000_000), None, at)
    price = prices.price_at(event.model or event.requested_model, event.started_at)
    if price is None:
        return usage_values(event, 0, None, at)
    return usage_values(event, price.cost_microusd(event.tokens), price.id, at)


# Positions in a `usage_values` row (USAGE_COLUMNS order) the SQLite path groups and sums by.
_AT = USAGE_COLUMNS.index
_STARTED = _AT("started_at")
# user, team, agent, model, requested model, client (cut to 200 already), source, initiator
_raw_dimensions = itemgetter(*map(_AT, ("user_id", "team_id", "agent_id", "model", "requested_model", "client",
                                        "source", "initiator")))  # fmt: skip
_started = itemgetter(_STARTED)
_STATUS = _AT("status")
_SUMMED = tuple(
    map(_AT, ("input_uncached", "cache_read", "cache_write", "output", "reasoning", "cost_microusd"))
)


def _usage_row_groups(rows: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], list[Any]]:
    """The rollup groups of SQLite usage rows: {(bucket, bucket_start, *dims): sums} (see `_Sums.rows`).

    Rows are grouped by their hour (the stored start time's first 13 characters, "YYYY-MM-DD HH") and their
    dimensions as stored, and only then are the dimensions normalized and the columns summed, once per
    group. A batch nearly always lies within one hour, which its earliest and latest start show (two passes
    in C); then the key is the dimensions alone, one C call per row, instead of a slice and a pair.
    """
    starts = list(map(_started, rows))
    first, last = min(starts)[:13], max(starts)[:13]
    by_raw_key: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    if first == last:
        for row in rows:
            key = _raw_dimensions(row)
            members = by_raw_key.get(key)
            if members is None:
                by_raw_key[key] = [row]
            else:
                members.append(row)
        by_hour_and_key: Iterable[tuple[tuple[Any, ...], list[tuple[Any, ...]]]] = (
            ((first, key), members) for key, members in by_raw_key.items()
        )
    else:
        for row, started in zip(rows, starts, strict=True):
            key = (started[:13], _raw_dimensions(row))
            members = by_raw_key.get(key)
            if members is None:
                by_raw_key[key] = [row]
            else:
                members.append(row)
        by_hour_and_key = by_raw_key.items()
    sums = _Sums()
    for (
        hour,
        (user, team, agent, model, requested, client, source, initiator),
    ), members in by_hour_and_key:
        # Rollups store 0 and '' for "none": SQL unique constraints treat NULLs as distinct.
        dims = (user or 0, team or 0, agent or 0, model or requested or "", client or "", source, initiator)
        errors = sum(row[_STATUS] != "ok" for row in members)
        sums.add(hour, dims, (len(members), errors, *(sum(map(itemgetter(i), members)) for i in _SUMMED)))
    return sums.rows(_text_starts)


def _write_usage_sqlite(session: Session, events: Sequence[UsageEvent], prices: PriceBook) -> int:
    """Insert the rows (those already stored are skipped), sum the inserted ones' rollups here and upsert
    the sums.

    Measured against letting SQLite sum the batch's new rowid range (INSERT ... SELECT ... GROUP BY, as
    PostgreSQL does here): the same CPU per event and no faster end to end (bench/RESULTS.md, 2026-12-02),
    so this path stays. So did letting SQLite build the rows from one JSON parameter (json_each and
    ->> per column): about three times the CPU of binding the values (SQLite 3.40, same section).
    """
    rows = []
    for event in events:
        if event.cost_usd is not None:
            cost, price_id = round(event.cost_usd * 1_000_000), None
        else:
            price = prices.price_at(event.model or event.requested_model, event.started_at)
            cost, price_id = (price.cost_microusd(event.tokens), price.id) if price else (0, None)
        rows.append(usage_values(event, cost, price_id, sqlite_time))
    fresh = _insert_new_sqlite(session, UsageEventRow.__tablename__, USAGE_COLUMNS, rows)
    if not fresh:
        return 0
    groups = _usage_row_groups(fresh)
    _upsert_rollups(session, UsageRollup.__tablename__, groups, USAGE_DIMENSIONS, USAGE_SUMS)
    _touch_days(session, groups)
    return len(fresh)


def _write_usage(session: Session, events: Sequence[UsageEvent], prices: PriceBook) -> int:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return _write_usage_sqlite(session, events, prices)
    # PostgreSQL, the only other backend.
    rows = [_usage_row(event, prices, postgres_time) for event in events]
    return store_usage_rows(session.connection(), rows)


def _write_outcomes(session: Session, events: Sequence[OutcomeEvent]) -> int:
    fresh: list[OutcomeEvent] = _new_only(session, OutcomeEventRow, events)
    if not fresh:
        return 0
    at = time_format(session.get_bind().dialect.name)
    sums = _Sums()
    for event in fresh:
        dims = (event.user_id or 0, event.team_id or 0, event.agent_id or 0, event.type, event.source)
        # count, accepted and rejected are integer columns; quantity and minutes_saved are real.
        accepted, rejected = int(event.accepted is True), int(event.accepted is False)
        sums.add(
            _utc_hour(event.occurred_at),
            dims,
            (1, float(event.quantity), accepted, rejected, event.minutes_saved or 0.0),
        )
    _insert_rows(
        session,
        OutcomeEventRow.__tablename__,
        OUTCOME_COLUMNS,
        [outcome_values(event, at) for event in fresh],
    )
    groups = sums.rows(_datetime_starts(at))
    _upsert_rollups(session, OutcomeRollup.__tablename__, groups, OUTCOME_DIMENSIONS, OUTCOME_SUMS)
    _touch_days(session, groups)
    return len(fresh)


def _write_activities(session: Session, events: Sequence[ActivityEvent]) -> int:
    fresh: list[ActivityEvent] = _new_only(session, ActivityEventRow, events)
    at = time_format(session.get_bind().dialect.name)
    _insert_rows(
        session,
        ActivityEventRow.__tablename__,
        ACTIVITY_COLUMNS,
        [activity_values(event, at) for event in fresh],
    )
    return len(fresh)


def write_batch(
    session: Session,
    *,
    usage: Sequence[UsageEvent],
    outcomes: Sequence[OutcomeEvent],
    activities: Sequence[ActivityEvent],
    prices: PriceBook,
) -> tuple[int, int, int]:
    """Store the events and update the rollups. Returns how many of each were new."""
    return (
        _write_usage(session, usage, prices) if usage else 0,
        _write_outcomes(session, outcomes) if outcomes else 0,
        _write_activities(session, activities) if activities else 0,
    )
