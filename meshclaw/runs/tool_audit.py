"""The audit record of each tool call a run decided: `tool.executed` when the tool ran (successfully or
not), `tool.denied` when the policy gate or a person refused it. A call waiting for approval gets its
record when it is decided (the approval records `approval.*` who decided).

Written in the transaction that writes the run's step, and only when that step is new, so a run replayed
after a crash does not audit a call twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from meshclaw.agents.runtime.contract import ToolCallStep
from meshclaw.audit.chain import AuditLog
from meshclaw.audit.record import AuditRecord
from meshclaw.db.models import Run


def invoked_by(run: Run) -> str:
    if run.started_by_user_id is not None:
        return f"user:{run.started_by_user_id}"
    return f"trigger:{run.trigger_kind}"


def append_many(
    log: AuditLog, session: Session, run: Run, steps: Sequence[tuple[ToolCallStep, datetime]]
) -> None:
    """The records of a batch of the run's tool calls, in order, in one append to the chain."""
    log.append_many(session, [(_record(run, step), at) for step, at in steps if step.status != "pending"])


def _record(run: Run, step: ToolCallStep) -> AuditRecord:
    return AuditRecord(
        kind="tool.denied" if step.status == "denied" else "tool.executed",
        actor_agent_id=run.agent_id,
        on_behalf_of_user_id=run.owner_user_id,
        invoked_by=invoked_by(run),
        tool=step.name,
        effect_class=step.effect.value,
        arguments=step.args,
        taint_sources=step.taint_sources,
        decision=step.decision,
        rule=step.rule or None,
        approval_id=step.approval_id,
        outcome=step.status,
        run_id=run.id,
    )
