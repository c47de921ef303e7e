"""Helpers for run tests: agents in the database, and waiting for a run's record to change."""

from __future__ import annotations

import time
from typing import Any

from meshclaw.agents import store as agents_store
from meshclaw.agents.spec import AgentSpec
from meshclaw.context import AppContext
from meshclaw.runs import store
from tests.conftest import Person
from tests.web.conftest import WebPerson


def save_agent(
    context: AppContext, org_id: int, owner: Person | WebPerson, name: str = "worker", **spec: Any
) -> int:
    """Create (or add a version to) the owner's agent; returns its id."""
    with context.db.session() as session:
        applied = agents_store.save_spec(
            session,
            org_id=org_id,
            owner_user_id=owner.id,
            spec=AgentSpec.model_validate({"name": name, **spec}),
            created_by_user_id=owner.id,
            now=context.clock.now(),
        )
    return applied.agent.id


def wait_final(context: AppContext, run_id: str, *, timeout: float = 20.0) -> str:
    """Poll the run's record until it ends; returns the final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with context.db.session() as session:
            run = store.get_run(session, run_id)
            assert run is not None
            if run.status in store.FINAL:
                return run.status
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end within {timeout} s")


def wait_status(context: AppContext, run_id: str, status: str, *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with context.db.session() as session:
            run = store.get_run(session, run_id)
            if run is not None and run.status == status:
                return
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not reach {status} within {timeout} s")
