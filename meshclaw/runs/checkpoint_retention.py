"""How long a finished run's step checkpoints are kept.

A durable run checkpoints every model response and tool result (`run_checkpoints`, pickled) so that a run
interrupted by a crash resumes without asking the model again or repeating a tool's effect. Once the run's
workflow is over nothing reads them, yet they are most of what a run stores. So they are deleted a
retention period after the run ended (`runs_checkpoint_retention_hours`, a week by default: time to look
into a run that went wrong), and never while DBOS still holds the run's workflow open: a workflow whose
last step ran but whose completion was not recorded is replayed at the next start and must find its steps.
The run itself, its steps as the run page shows them and its audit records stay.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, exists, select

from meshclaw.db.engine import Database
from meshclaw.db.models import Run, RunCheckpoint

BATCH = 500
"""Runs per delete statement: one transaction stays short, and an IN list stays within SQLite's limits."""

OPEN_WORKFLOW_STATUSES = ("PENDING", "ENQUEUED", "DELAYED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED")
"""DBOS statuses of a workflow that may still run (the last one can be resumed by hand)."""


def prune(db: Database, *, ended_before: datetime, keep: Collection[str]) -> int:
    """Delete the checkpoints of runs that ended before `ended_before`, except the runs in `keep` (those
    whose workflow is still open); returns how many checkpoints were deleted."""
    with db.session() as session:
        has_checkpoints = exists(select(RunCheckpoint.run_id).where(RunCheckpoint.run_id == Run.id))
        ended = session.scalars(
            select(Run.id).where(Run.ended_at.is_not(None), Run.ended_at < ended_before, has_checkpoints)
        ).all()
    done = [run_id for run_id in ended if run_id not in keep]
    removed = 0
    for start in range(0, len(done), BATCH):
        with db.session() as session:
            result = session.execute(
                delete(RunCheckpoint).where(RunCheckpoint.run_id.in_(done[start : start + BATCH]))
            )
            removed += result.rowcount  # type: ignore[attr-defined]
    return removed
