"""PostgreSQL: a batch of usage rows by COPY, then one statement that stores the new ones and rolls them up.

The rows are copied into a temporary staging table (COPY is PostgreSQL's bulk path: one stream instead
of one bound statement per row), and a single statement then inserts them into `usage_events` with
`ON CONFLICT (event_id) DO NOTHING` and adds exactly the rows it inserted (its `RETURNING`) to the hour
and day rollups and the `rollup_days` versions. An event already stored, or twice in the batch, inserts
no row and so adds nothing: no look-up of existing ids is needed, and a replay never double counts.
The grouping expressions are the bulk rebuild's (`rollup_rebuild.py`, proven equal to the Python sums
by tests/metering/test_rollup_rebuild.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from meshclaw.metering.rollup_rebuild import USAGE_DIMENSION_SQL, USAGE_SUM_SQL, bucket_start_sql
from meshclaw.metering.rows import USAGE_COLUMNS

_STAGING = "usage_events_batch"
_DIMENSIONS = ("user_id", "team_id", "agent_id", "model", "client", "source", "initiator")
_SUMS = ("requests", "errors", "input_uncached", "cache_read", "cache_write", "output", "reasoning",
         "cost_microusd")  # fmt: skip
_KEY = ("bucket", "bucket_start", *_DIMENSIONS)


def _rollup_cte(bucket: str) -> str:
    start = bucket_start_sql("postgresql", bucket, "started_at")
    additions = ", ".join(f"{name} = usage_rollups.{name} + excluded.{name}" for name in _SUMS)
    # An hour row and a day row never share a key (the bucket differs), so the two upserts of one
    # statement never touch the same row.
    return (
        f"{bucket}_rollups AS (INSERT INTO usage_rollups ({', '.join((*_KEY, *_SUMS))}) "  # noqa: S608
        f"SELECT '{bucket}', {start}, {', '.join(USAGE_DIMENSION_SQL)}, {', '.join(USAGE_SUM_SQL)} "
        f"FROM inserted GROUP BY {start}, {', '.join(USAGE_DIMENSION_SQL)} "
        f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET {additions} RETURNING 1)"
    )


_COLUMNS = ", ".join(USAGE_COLUMNS)
# Names and expressions are this module's constants, never input.
_STORE_AND_ROLL_UP = (
    f"WITH inserted AS (INSERT INTO usage_events ({_COLUMNS}) SELECT {_COLUMNS} FROM {_STAGING} "  # noqa: S608
    f"ON CONFLICT (event_id) DO NOTHING RETURNING *), "
    f"{_rollup_cte('hour')}, {_rollup_cte('day')}, "
    f"days AS (INSERT INTO rollup_days (day, version) "
    f"SELECT DISTINCT {bucket_start_sql('postgresql', 'day', 'started_at')}, 1 FROM inserted "
    f"ON CONFLICT (day) DO UPDATE SET version = rollup_days.version + 1 RETURNING 1) "
    f"SELECT count(*) FROM inserted"
)


def store_usage_rows(connection: Connection, rows: list[tuple[Any, ...]]) -> int:
    """Store the rows (`rows.usage_values` order) and add the new ones to the rollups, in the caller's
    transaction. Returns how many were new."""
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        # One per connection, emptied at each commit (a rollback undoes the COPY); it takes the columns'
        # types from usage_events, not its constraints.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGING} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT {_COLUMNS} FROM usage_events WITH NO DATA"
        )
        with cursor.copy(f"COPY {_STAGING} ({_COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(_STORE_AND_ROLL_UP)
        counted = cursor.fetchone()
    return int(counted[0]) if counted else 0
