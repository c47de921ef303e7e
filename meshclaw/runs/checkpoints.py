"""The SQL of `run_checkpoints`: the recorded result of each model request and tool call of a durable run.

A durable run checkpoints two steps per agent step, so this SQL is on the hot path of every run: each
statement is compiled once for the database's dialect and executed on a raw DB-API connection from the
engine's pool (same connections, same pragmas). Built and compiled per call through SQLAlchemy Core, as
DBOS 3.4 does for its step checkpoints, the insert cost ~0.25 ms CPU on SQLite against ~0.08 ms this way;
DBOS's check and record of a step cost ~5 ms (bench/RESULTS.md, 2026-12-02).

`meshclaw.runs.steps` decides what is recorded when; this module only reads and writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from meshclaw.db.engine import Database
from meshclaw.db.models import Run, RunCheckpoint
from meshclaw.runs import store


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    name: str
    """What the step was: "model.request" or the tool's name."""
    failed: bool
    """The step raised: `result` is the pickled exception."""
    result: bytes


@dataclass(frozen=True)
class _Statement:
    """A statement compiled for one dialect: its SQL in the driver's parameter style, and for a
    positional style (SQLite's `?`) the order its parameters go in."""

    sql: str
    order: tuple[str, ...] | None

    @classmethod
    def compile(cls, statement: ClauseElement, dialect: sa.Dialect) -> _Statement:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        order = tuple(compiled.positiontup) if compiled.positiontup is not None else None
        return cls(str(compiled), order)

    def params(self, values: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
        return tuple(values[name] for name in self.order) if self.order is not None else values


class CheckpointStore:
    """Reads a run's checkpoints at once, and records one at a time."""

    def __init__(self, db: Database) -> None:
        self._engine = db.engine
        dialect = db.engine.dialect
        table = RunCheckpoint.__table__
        assert isinstance(table, sa.Table)
        insert = (sqlite.insert if dialect.name == "sqlite" else postgresql.insert)(table)
        self._insert = _Statement.compile(
            insert.on_conflict_do_nothing(index_elements=[table.c.run_id, table.c.seq]), dialect
        )
        columns = (table.c.name, table.c.failed, table.c.result)
        run_id = sa.bindparam("run_id", type_=sa.String())
        self._one = _Statement.compile(
            sa.select(*columns).where(table.c.run_id == run_id, table.c.seq == sa.bindparam("seq")), dialect
        )
        self._all = _Statement.compile(
            sa.select(table.c.seq, *columns).where(table.c.run_id == run_id).order_by(table.c.seq), dialect
        )
        self._status = _Statement.compile(sa.select(Run.status).where(Run.id == run_id), dialect)

    def load(self, run_id: str) -> dict[int, Checkpoint]:
        """Every checkpoint of the run, by its number."""
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(self._all.sql, self._all.params({"run_id": run_id}))
            rows = cursor.fetchall()
            connection.commit()  # PostgreSQL opened a transaction for the read
        finally:
            connection.close()
        return {
            int(seq): Checkpoint(name=name, failed=bool(failed), result=bytes(result))
            for seq, name, failed, result in rows
        }

    def record(self, run_id: str, seq: int, checkpoint: Checkpoint) -> tuple[Checkpoint, bool]:
        """Record checkpoint `seq` of the run, committed before this returns. Returns the checkpoint now
        stored (another execution of the run that recorded `seq` first wins) and whether the run's record
        has ended (cancelled, or stopped by a kill switch, possibly in another process)."""
        values = {
            "run_id": run_id,
            "seq": seq,
            "name": checkpoint.name,
            "failed": checkpoint.failed,
            "result": checkpoint.result,
        }
        stored = checkpoint
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(self._insert.sql, self._insert.params(values))
            if cursor.rowcount == 0:
                cursor.execute(self._one.sql, self._one.params(values))
                row = cursor.fetchone()
                assert row is not None, "a conflicting checkpoint is never deleted"
                name, failed, result = row
                stored = Checkpoint(name=name, failed=bool(failed), result=bytes(result))
            cursor.execute(self._status.sql, self._status.params(values))
            status = cursor.fetchone()
            connection.commit()
        finally:
            connection.close()
        return stored, status is not None and status[0] in store.FINAL
