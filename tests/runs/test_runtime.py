"""A run through the real agent runtime (pydantic-ai with a scripted model): the model calls the effect
tool twice and answers; the history shows the model calls with tokens and the tool calls with the gate's
decision, and each tool effect ran once under its idempotency key. Model requests are checkpointed steps
like tool calls (`run_checkpoints`): replaying the workflow answers them from their checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from dbos import DBOS
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import RunCheckpoint, RunStep
from meshclaw.db.models.audit import AuditEvent
from tests.conftest import People
from tests.runs.records import save_agent, wait_final
from tests.runs.scripted import MODEL_CALLS, TOOL

T = TypeVar("T")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        data_dir=tmp_path, database_url=database_url, runs_executor="tests.runs.scripted:build_runtime"
    )


def test_a_run_through_the_agent_runtime(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    save_agent(
        context, org_id, owner, "real", model={"name": "scripted"}, tools=[{"tool": "effect_write_record"}]
    )
    run_id = app_client.post(
        "/api/v1/runs", json={"agent": "real", "input": "do it"}, headers=owner.auth
    ).json()["id"]
    assert wait_final(context, run_id, timeout=60) == "succeeded"
    shown = app_client.get(f"/api/v1/runs/{run_id}", headers=owner.auth).json()
    assert shown["output"] == "done after 2 calls"
    kinds = [(step["kind"], step["name"], step["decision"]) for step in shown["steps"]]
    assert kinds == [
        ("model_call", "scripted", None), ("tool_call", "effect_write_record", "allow"),
        ("model_call", "scripted", None), ("tool_call", "effect_write_record", "allow"),
        ("model_call", "scripted", None),
    ]  # fmt: skip
    assert (shown["input_tokens"], shown["output_tokens"]) == (30, 15)
    attempts = (context.settings.data_dir / "effects" / "attempts.log").read_text().split()
    assert attempts[0::2] == [f"{run_id}:1", f"{run_id}:2"]

    # The run's checkpoints: every model request is checkpointed between the tool steps.
    with context.db.session() as session:
        names = session.scalars(
            select(RunCheckpoint.name).where(RunCheckpoint.run_id == run_id).order_by(RunCheckpoint.seq)
        ).all()
    assert names == ["model.request", TOOL, "model.request", TOOL, "model.request"]
    # Replaying without the last model request's checkpoint: the earlier requests come from theirs.
    with context.db.session() as session:
        session.execute(delete(RunCheckpoint).where(RunCheckpoint.run_id == run_id, RunCheckpoint.seq == 5))
    finish = max(step["function_id"] for step in on_a_thread(lambda: DBOS.list_workflow_steps(run_id)))
    before = len(MODEL_CALLS)
    forked = on_a_thread(lambda: DBOS.fork_workflow(run_id, finish))
    assert on_a_thread(forked.get_result) == "succeeded"
    assert len(MODEL_CALLS) - before == 1
    # The replay reported every step again (in batches): none was recorded or audited twice.
    with context.db.session() as session:
        recorded = session.scalars(select(RunStep.seq).where(RunStep.run_id == run_id)).all()
        audited = session.scalars(
            select(AuditEvent.tool).where(AuditEvent.run_id == run_id, AuditEvent.kind == "tool.executed")
        ).all()
    assert sorted(recorded) == [1, 2, 3, 4, 5]
    assert audited == [TOOL, TOOL]
    replayed = (context.settings.data_dir / "effects" / "attempts.log").read_text().split()
    assert replayed == attempts  # the replay ran neither tool call again
    with context.db.session() as session:
        seqs = session.scalars(select(RunCheckpoint.seq).where(RunCheckpoint.run_id == run_id)).all()
    assert sorted(seqs) == [1, 2, 3, 4, 5]


def on_a_thread(call: Callable[[], T]) -> T:
    """DBOS's synchronous API refuses a thread with a running event loop (Playwright's, in this session)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()
