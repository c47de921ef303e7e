"""Starting a run from outside the server process (the CLI): write the record with the same admission as
the engine, then enqueue the workflow in DBOS's system database through a DBOS client. Whichever process
runs the engine (`meshclaw up`, or a worker) executes it; if none is up yet, it waits in the queue.
Deciding an approval from outside works the same way: record the decision, then wake the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from dbos import DBOSClient, EnqueueOptions

from meshclaw.context import AppContext
from meshclaw.errors import InvalidInputError
from meshclaw.runs import approvals, guards
from meshclaw.runs.admission import admit
from meshclaw.runs.engine import APPLICATION_VERSION, QUEUE
from meshclaw.runs.workflow import APPROVAL_TOPIC, WORKFLOW_NAME, audit_log


def start_from_outside(
    context: AppContext,
    agent_id: int,
    *,
    input_text: str,
    mode: Literal["attended", "unattended"] = "attended",
    detail: dict[str, str] | None = None,
    trigger_kind: Literal["manual", "dream"] = "manual",
) -> tuple[str, bool]:
    """Record and enqueue a manual run (or a dream); returns (run id, queued). Not queued means a guard
    skipped it."""
    url = context.settings.resolved_runs_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise InvalidInputError(
            "the runs engine has never started here: run `meshclaw up` once (it creates its database)"
        )
    with context.db.session() as session:
        admitted = admit(
            session,
            agent_id,
            trigger_kind=trigger_kind,
            trigger_detail=detail or {"by": "operator (CLI)"},
            input_text=input_text,
            mode=mode,
            conditions=guards.Conditions(),
            agent_concurrency=context.settings.runs_agent_concurrency,
            now=context.clock.now(),
        )
    assert admitted is not None  # a fresh id never collides
    if admitted.queued:
        client = DBOSClient(system_database_url=url)
        try:
            options: EnqueueOptions = {
                "workflow_name": WORKFLOW_NAME,
                "queue_name": QUEUE,
                "workflow_id": admitted.run_id,
                "app_version": APPLICATION_VERSION,
                "queue_partition_key": str(admitted.owner_user_id),
            }
            client.enqueue(options, admitted.run_id)
        finally:
            client.destroy()
    return admitted.run_id, admitted.queued


def decide_from_outside(
    context: AppContext, approval_id: str, choice: approvals.Choice
) -> approvals.ApprovalView:
    """The operator's decision on an approval (the CLI): recorded with its audit record, then the waiting
    run is woken through DBOS's system database. Edited arguments are not taken here: the CLI does not
    load the tools whose schemas would check them."""
    if choice.args is not None:
        raise InvalidInputError("edit the arguments in the web inbox or through the API", field="args")
    with context.db.session() as session:
        decided = approvals.decide(
            session, None, approval_id, choice, now=context.clock.now(), audit=audit_log(context),
            args_model=lambda _tool: None,
        )  # fmt: skip
    client = DBOSClient(system_database_url=context.settings.resolved_runs_database_url)
    try:
        client.send(decided.run_id, {"wake": True}, topic=APPROVAL_TOPIC)
    finally:
        client.destroy()
    return decided
