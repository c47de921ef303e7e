"""The server wires the agent runtime into the runs engine with the gateway as its model access: a run
started through /api/v1/runs calls the stub upstream through the gateway, and that call is one UsageEvent
with source agent, attributed to the agent, its owner and the run; a run whose model no provider serves
fails saying how to add one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.config import load_settings
from meshclaw.context import AppContext
from meshclaw.db.models.metering import UsageEventRow
from meshclaw.identity import store
from meshclaw.providers.registry import add_provider
from meshclaw.runs import store as runs_store
from meshclaw.server.app import create_app
from tests.conftest import People, Person
from tests.gateway.conftest import PROVIDER_KEY, PROVIDER_KEY_ENV
from tests.runs.records import save_agent, wait_final
from tests.stub_upstream import RunningStub, stub_in_thread


@dataclass
class Stack:
    client: TestClient
    context: AppContext
    stub: RunningStub
    owner: Person
    org_id: int


@pytest.fixture
def stack(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv(PROVIDER_KEY_ENV, PROVIDER_KEY)
    context = AppContext.from_settings(load_settings(data_dir=tmp_path, database_url=database_url))
    with stub_in_thread() as stub:
        with context.db.session() as session:
            org, _ = store.ensure_org(session, name="Test Org", now=context.clock.now())
            add_provider(session, name="stub", kind="openai", base_url=stub.url, api_key_env=PROVIDER_KEY_ENV,
                         models=["stub-small"], now=context.clock.now())  # fmt: skip
        people = People(context, org.id)
        owner = people.add(team_id=people.team("Ops"))
        with TestClient(create_app(context)) as client:
            yield Stack(client=client, context=context, stub=stub, owner=owner, org_id=org.id)
    context.db.dispose()


def test_a_run_from_the_api_reaches_its_model_through_the_gateway(stack: Stack) -> None:
    agent_id = save_agent(stack.context, stack.org_id, stack.owner, "helper", model={"name": "stub-small"},
                          instructions="Say hello.")  # fmt: skip
    started = stack.client.post(
        "/api/v1/runs", json={"agent": "helper", "input": "hi"}, headers=stack.owner.auth
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    assert wait_final(stack.context, run_id, timeout=60) == "succeeded"
    assert stack.stub.stats()["requests"] == 1
    stack.client.app.state.recorder.flush()  # type: ignore[attr-defined]
    with stack.context.db.session() as session:
        [row] = session.scalars(select(UsageEventRow)).all()
        assert (row.source, row.agent_id, row.user_id, row.team_id, row.run_id, row.initiator) == (
            "agent", agent_id, stack.owner.id, stack.owner.team_id, run_id, "human")  # fmt: skip
        run = runs_store.get_run(session, run_id)
        assert run is not None and run.output == "Hello from the stub upstream model here now"


def test_a_model_no_provider_serves_fails_the_run_with_how_to_add_one(stack: Stack) -> None:
    save_agent(stack.context, stack.org_id, stack.owner, "lost", model={"name": "stub-small"})
    with stack.context.db.session() as session:
        from meshclaw.providers.registry import remove_provider

        remove_provider(session, "stub")
    stack.client.app.state.provider_routes.reload()  # type: ignore[attr-defined]
    run_id = stack.client.post("/api/v1/runs", json={"agent": "lost"}, headers=stack.owner.auth).json()["id"]
    assert wait_final(stack.context, run_id, timeout=60) == "failed"
    with stack.context.db.session() as session:
        run = runs_store.get_run(session, run_id)
        assert run is not None and run.error is not None and "meshclaw providers add" in run.error
