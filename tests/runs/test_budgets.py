"""Budgets on real runs: an agent's daily caps on cost and tokens (`daily.max_cost_usd`, `daily.max_tokens`)
refuse a run once the day's spend reached them and stop a run that reaches them midway; a run that ends
`budget_exceeded` notifies its owner (API, page, the count in the navigation)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.runs import store
from tests.conftest import People
from tests.runs.records import save_agent, wait_final
from tests.web.conftest import WebPeople, signed_in


def error_of(context: AppContext, run_id: str) -> str | None:
    with context.db.session() as session:
        run = store.get_run(session, run_id)
        assert run is not None
        return run.error


@pytest.mark.parametrize(
    ("daily", "cap"),
    [
        ({"max_tokens": 20}, "daily.max_tokens = 20"),
        ({"max_cost_usd": 0.0015}, "daily.max_cost_usd = 0.0015"),
    ],
)
def test_a_run_is_skipped_once_the_days_spend_reached_a_daily_cap(
    app_client: TestClient,
    context: AppContext,
    org_id: int,
    people: People,
    daily: dict[str, float],
    cap: str,
) -> None:
    """The scripted agent reports two model calls of 15 tokens and 0.001 USD each, without limits of its own."""
    owner = people.add()
    save_agent(context, org_id, owner, settings={"tool_calls": 2}, daily=daily)
    first = app_client.post("/api/v1/runs", json={"agent": "worker"}, headers=owner.auth).json()
    assert wait_final(context, first["id"]) == "succeeded"
    second = app_client.post("/api/v1/runs", json={"agent": "worker"}, headers=owner.auth).json()
    assert second["status"] == "skipped"
    assert f"the agent reached its daily cap {cap}" in second["error"]


class TestWithTheRealRuntime:
    """The agent runtime (pydantic-ai) with a scripted model: 15 tokens a request, a tool call per request."""

    @pytest.fixture
    def settings(self, tmp_path: Path, database_url: str) -> Settings:
        return load_settings(
            data_dir=tmp_path, database_url=database_url, runs_executor="tests.runs.scripted:build_runtime"
        )

    def test_a_run_that_reaches_a_daily_cap_midway_ends_budget_exceeded_and_its_owner_is_told(
        self, app_client: TestClient, context: AppContext, org_id: int, people: People
    ) -> None:
        web = WebPeople(context, people)
        owner = web.add()
        save_agent(context, org_id, owner, "digest", model={"name": "scripted"},
                   tools=[{"tool": "effect_write_record"}], daily={"max_tokens": 20})  # fmt: skip
        token = signed_in(app_client, owner)
        headers = {"X-CSRF-Token": token}
        run_id = app_client.post("/api/v1/runs", json={"agent": "digest"}, headers=headers).json()["id"]
        assert wait_final(context, run_id, timeout=60) == "budget_exceeded"
        error = error_of(context, run_id)
        assert error == "the agent reached its daily cap daily.max_tokens = 20 (per UTC day) during this run"

        notes = app_client.get("/api/v1/notifications", headers=headers).json()
        assert notes["unread"] == 1
        [note] = notes["items"]
        assert (note["kind"], note["link"]) == ("run.budget_exceeded", f"/runs/{run_id}")
        assert note["text"] == f"A run of your agent 'digest' stopped over budget: {error}"
        page = app_client.get("/notifications").text
        assert 'id="unread-count">1<' in page and f'href="/runs/{run_id}"' in page
        assert app_client.post("/notifications/read", data={"csrf_token": token}).status_code == 200
        assert 'id="unread-count"' not in app_client.get("/notifications").text

        again = app_client.post("/api/v1/runs", json={"agent": "digest"}, headers=headers).json()
        assert again["status"] == "skipped" and "daily.max_tokens = 20" in again["error"]

    def test_a_run_under_its_daily_caps_is_not_cut_short(
        self, app_client: TestClient, context: AppContext, org_id: int, people: People
    ) -> None:
        owner = people.add()
        save_agent(context, org_id, owner, "digest", model={"name": "scripted"},
                   tools=[{"tool": "effect_write_record"}], daily={"max_tokens": 1000})  # fmt: skip
        run_id = app_client.post("/api/v1/runs", json={"agent": "digest"}, headers=owner.auth).json()["id"]
        assert wait_final(context, run_id, timeout=60) == "succeeded"
        assert app_client.get("/api/v1/notifications", headers=owner.auth).json()["unread"] == 0
