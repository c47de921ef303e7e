"""Rebuild the hour and day rollups of a time range from the stored events, in bulk SQL.

The writer keeps rollups current as events arrive (`writer.py`); this is for when that path was not
taken: events loaded in bulk (the 10-million-event benchmark), or rollups to repair after a restore.
The statements group exactly as the writer does: 0 and '' for "none", the model as recorded or else as
requested, the client cut to 200 characters, UTC hours and days, an error being any status but "ok".
It raises the `rollup_days` version of every day of the range, as the writer does for the days it adds
to. tests/metering/test_rollup_rebuild.py proves the two paths give identical rows. The writer's PostgreSQL
path (`postgres_usage.py`) groups a batch's new rows with these same expressions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, text

from meshclaw.metering.rows import time_format

USAGE_DIMENSION_SQL = (
    "COALESCE(user_id, 0)",
    "COALESCE(team_id, 0)",
    "COALESCE(agent_id, 0)",
    "COALESCE(NULLIF(model, ''), NULLIF(requested_model, ''), '')",
    "SUBSTR(COALESCE(client, ''), 1, 200)",
    "source",
    "initiator",
)
USAGE_SUM_SQL = (
    "COUNT(*)",
    "SUM(CASE WHEN status = 'ok' THEN 0 ELSE 1 END)",
    "SUM(input_uncached)",
    "SUM(cache_read)",
    "SUM(cache_write)",
    "SUM(output)",
    "SUM(reasoning)",
    "SUM(cost_microusd)",
)
_OUTCOME_DIMENSIONS = (
    "COALESCE(user_id, 0)",
    "COALESCE(team_id, 0)",
    "COALESCE(agent_id, 0)",
    "type",
    "source",
)
_OUTCOME_SUMS = (
    "COUNT(*)",
    "SUM(quantity)",
    "SUM(CASE WHEN accepted THEN 1 ELSE 0 END)",
    "SUM(CASE WHEN accepted IS NOT NULL AND NOT accepted THEN 1 ELSE 0 END)",
    "SUM(COALESCE(minutes_saved, 0))",
)


def bucket_start_sql(dialect: str, bucket: str, column: str) -> str:
    if dialect == "postgresql":
        return f"date_trunc('{bucket}', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    # SQLite stores naive UTC text with microseconds (`rows.sqlite_time`); the bucket keeps that form.
    pattern = "%Y-%m-%d %H:00:00.000000" if bucket == "hour" else "%Y-%m-%d 00:00:00.000000"
    return f"strftime('{pattern}', {column})"


def rebuild_rollups(
    connection: Connection, since: datetime | None = None, until: datetime | None = None
) -> None:
    """Replace the usage and outcome rollups of [since, until) (whole UTC days) with sums of the events;
    without a range, all of them, in one sequential pass over each event table (a range is read through
    the time index, which on a table loaded in another order means a random read per event)."""
    dialect = connection.dialect.name
    at = time_format(dialect)
    ranged = since is not None and until is not None
    bounds = {"since": at(since), "until": at(until)} if since is not None and until is not None else {}
    plans = (
        ("usage_rollups", "usage_events", "started_at", USAGE_DIMENSION_SQL, USAGE_SUM_SQL,
         "user_id, team_id, agent_id, model, client, source, initiator",
         "requests, errors, input_uncached, cache_read, cache_write, output, reasoning, cost_microusd"),
        ("outcome_rollups", "outcome_events", "occurred_at", _OUTCOME_DIMENSIONS, _OUTCOME_SUMS,
         "user_id, team_id, agent_id, type, source", "count, quantity, accepted, rejected, minutes_saved"),
    )  # fmt: skip
    for rollups, events, moment, dimensions, sums, dimension_names, sum_names in plans:
        # Names are this module's constants, never input; the bounds go as parameters.
        in_range = " WHERE bucket_start >= :since AND bucket_start < :until" if ranged else ""
        connection.execute(text(f"DELETE FROM {rollups}{in_range}"), bounds)  # noqa: S608
        for bucket in ("hour", "day"):
            start = bucket_start_sql(dialect, bucket, moment)
            where = f" WHERE {moment} >= :since AND {moment} < :until" if ranged else ""
            statement = (
                f"INSERT INTO {rollups} (bucket, bucket_start, {dimension_names}, {sum_names}) "  # noqa: S608
                f"SELECT '{bucket}', {start}, {', '.join(dimensions)}, {', '.join(sums)} "
                f"FROM {events}{where} GROUP BY {start}, {', '.join(dimensions)}"
            )
            connection.execute(text(statement), bounds)
    # Every day rebuilt moved on, for readers that keep sums of the rollups (`RollupDay`).
    bump = " ON CONFLICT (day) DO UPDATE SET version = rollup_days.version + 1"
    if not ranged:
        every_day = (
            "INSERT INTO rollup_days (day, version) SELECT bucket_start, 1 FROM usage_rollups "
            "WHERE bucket = 'day' UNION SELECT bucket_start, 1 FROM outcome_rollups WHERE bucket = 'day'"
        )
        connection.execute(text(every_day + bump))
        return
    assert since is not None and until is not None
    day, days = since.replace(hour=0, minute=0, second=0, microsecond=0), []
    while day < until:
        days.append({"day": at(day)})
        day += timedelta(days=1)
    connection.execute(text("INSERT INTO rollup_days (day, version) VALUES (:day, 1)" + bump), days)  # noqa: S608
