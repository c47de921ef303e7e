"""Old step checkpoints are deleted (`meshclaw.runs.checkpoint_retention`), on both backends: only those
of runs that ended more than the retention period ago, never those of a run still going or whose workflow
DBOS holds open; the runs themselves and their steps stay."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from dbos import DBOS
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import Run, RunCheckpoint, RunStep
from meshclaw.runs import checkpoint_retention
from meshclaw.runs.checkpoints import Checkpoint, CheckpointStore
from meshclaw.runs.engine import RunEngine
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS
from tests.runs.approval_agent import DEPLOY
from tests.runs.records import save_agent, wait_final, wait_status


def _count(context: AppContext, run_id: str) -> int:
    with context.db.session() as session:
        found = session.scalar(
            select(func.count()).select_from(RunCheckpoint).where(RunCheckpoint.run_id == run_id)
        )
    return int(found or 0)


@BOTH_BACKENDS
def test_checkpoints_go_a_retention_period_after_the_run_ended(context: AppContext, org_id: int) -> None:
    now = context.clock.now()
    store = CheckpointStore(context.db)
    ended = {"old": now - timedelta(days=8), "recent": now - timedelta(days=1), "running": None,
             "old-open": now - timedelta(days=8)}  # fmt: skip
    with context.db.session() as session:
        for run_id, at in ended.items():
            session.add(
                Run(id=run_id, org_id=org_id, agent_id=1, agent_version_id=1, owner_user_id=1, team_id=None,
                    started_by_user_id=None, trigger_kind="manual", trigger_detail={}, mode="unattended",
                    status="running" if at is None else "succeeded", input={}, created_at=now - timedelta(days=9),
                    ended_at=at)
            )  # fmt: skip
    for run_id in ended:
        for seq in (1, 2, 3):
            store.record(run_id, seq, Checkpoint(name="model.request", failed=False, result=b"x" * 100))

    removed = checkpoint_retention.prune(context.db, ended_before=now - timedelta(days=7), keep={"old-open"})
    assert removed == 3
    assert {run_id: _count(context, run_id) for run_id in ended} == {
        "old": 0, "recent": 3, "running": 3, "old-open": 3}  # fmt: skip
    with context.db.session() as session:
        assert session.get(Run, "old") is not None
    assert (
        checkpoint_retention.prune(context.db, ended_before=now - timedelta(days=7), keep=()) == 3
    )  # old-open
    assert checkpoint_retention.prune(context.db, ended_before=now - timedelta(days=7), keep=()) == 0


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        data_dir=tmp_path, database_url=database_url, runs_executor="tests.runs.approval_agent:build"
    )


def test_the_engine_keeps_a_runs_checkpoints_while_its_workflow_is_open_then_a_week(
    app_client: TestClient, context: AppContext, engine: RunEngine, org_id: int, people: People
) -> None:
    owner = people.add()
    save_agent(context, org_id, owner, "deployer", model={"name": "scripted"}, tools=[{"tool": DEPLOY}])
    started = app_client.post(
        "/api/v1/runs", json={"agent": "deployer", "input": "deploy"}, headers=owner.auth
    )
    run_id = started.json()["id"]
    wait_status(context, run_id, "waiting_approval", timeout=60)
    now = context.clock.now()
    long_ago = now - timedelta(hours=169)
    # Waiting for a person: its DBOS workflow is open, so even a record claiming it ended long ago (a
    # clock jump, a row edited by hand) keeps the checkpoints its resumption will read.
    recorded = _count(context, run_id)
    assert recorded > 0
    _ended(context, run_id, long_ago)
    assert _prune(engine, now) == 0 and _count(context, run_id) == recorded

    [approval] = [
        a for a in app_client.get("/api/v1/approvals", headers=owner.auth).json() if a["run_id"] == run_id
    ]
    decided = app_client.post(
        f"/api/v1/approvals/{approval['id']}", json={"decision": "approve"}, headers=owner.auth
    )
    assert decided.status_code == 200, decided.text
    assert wait_final(context, run_id, timeout=60) == "succeeded"
    # The run's record ends in the workflow's last step; DBOS records the workflow's end just after.
    _wait_workflow_closed(run_id)
    recorded = _count(context, run_id)
    steps_before = _steps(context, run_id)
    assert _prune(engine, now) == 0  # it ended just now
    _ended(context, run_id, long_ago)
    assert _prune(engine, now) == recorded and _count(context, run_id) == 0
    # What the run page shows stays: the run and its steps.
    assert _steps(context, run_id) == steps_before > 0
    assert app_client.get(f"/api/v1/runs/{run_id}", headers=owner.auth).json()["status"] == "succeeded"


def _prune(engine: RunEngine, now: datetime) -> int:
    # On a thread, as the engine's tick runs it: DBOS refuses its blocking calls where an event loop runs
    # (the suite's Playwright keeps one marked running on the main thread).
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(engine.prune_checkpoints, now).result()


def _wait_workflow_closed(run_id: str, timeout: float = 30.0) -> None:
    def closed() -> bool:
        status = DBOS.get_workflow_status(run_id)
        return status is not None and status.status not in checkpoint_retention.OPEN_WORKFLOW_STATUSES

    deadline = time.monotonic() + timeout
    with ThreadPoolExecutor(1) as pool:  # on a thread, as `_prune` says why
        while not pool.submit(closed).result():
            assert time.monotonic() < deadline, f"run {run_id}'s workflow did not close within {timeout} s"
            time.sleep(0.05)


def _ended(context: AppContext, run_id: str, at: datetime) -> None:
    with context.db.session() as session:
        session.execute(update(Run).where(Run.id == run_id).values(ended_at=at))


def _steps(context: AppContext, run_id: str) -> int:
    with context.db.session() as session:
        return int(
            session.scalar(select(func.count()).select_from(RunStep).where(RunStep.run_id == run_id)) or 0
        )
