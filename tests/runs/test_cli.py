"""The CLI: `meshclaw agents run NAME --wait` records and enqueues a run that the running server executes
(no API key: the CLI acts on the databases as the operator), then `runs list` and `runs show` print it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from meshclaw.identity.principal import Role
from tests.cli_runner import run_cli
from tests.conftest import LiveServer, People
from tests.runs.conftest import SCRIPTED
from tests.runs.records import save_agent


@pytest.fixture
def live_server_settings() -> dict[str, Any]:
    return {"runs_executor": SCRIPTED}


def test_agents_run_waits_for_the_server_to_execute_it(live_server: LiveServer) -> None:
    context = live_server.context
    people = People(context, org_id=1)
    admin = people.add(Role.ADMIN)
    save_agent(context, 1, admin, "nightly", settings={"tool_calls": 2})
    data_dir = context.settings.data_dir

    started = run_cli(data_dir, "agents", "run", "nightly", "--input", "go", "--wait", "--json")
    assert started.returncode == 0, started.stderr
    run = json.loads(started.stdout)
    assert (run["status"], run["trigger_kind"], run["input"]) == ("succeeded", "manual", "go")
    assert [step["kind"] for step in run["steps"]] == ["model_call", "tool_call"] * 2

    listed = run_cli(data_dir, "runs", "list", "--json")
    assert [r["id"] for r in json.loads(listed.stdout)] == [run["id"]]
    shown = run_cli(data_dir, "runs", "show", run["id"])
    assert shown.returncode == 0 and "succeeded" in shown.stdout and "effect_write_record" in shown.stdout
    assert run_cli(data_dir, "runs", "show", "run-nope").returncode == 2
    assert run_cli(data_dir, "agents", "run", "nope").returncode == 2
