"""The CLI: `meshclaw agents dream NAME` says when the agent dreams next, `--now --wait` dreams now through
the running server and prints the diary, `meshclaw agents dreams NAME` shows the diary."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from meshclaw.agents.memory.store import remember
from meshclaw.identity.principal import Role
from tests.cli_runner import run_cli
from tests.conftest import LiveServer, People
from tests.runs.conftest import SCRIPTED
from tests.runs.records import save_agent


@pytest.fixture
def live_server_settings() -> dict[str, Any]:
    return {"runs_executor": SCRIPTED}


def test_dream_now_and_read_the_diary(live_server: LiveServer) -> None:
    context = live_server.context
    admin = People(context, org_id=1).add(Role.ADMIN)
    agent_id = save_agent(context, 1, admin, "dreamer", dreaming={"at": "03:30", "timezone": "Europe/Berlin"})
    save_agent(context, 1, admin, "awake")
    now = context.clock.now()
    with context.db.session() as session:
        for hours, content in (
            (5, "The backup runs at 02:00 on the nas"),
            (1, "The nas backup runs at 02:00"),
        ):
            remember(session, agent_id=agent_id, content=content, origin="trusted", source="tool",
                     now=now - timedelta(hours=hours))  # fmt: skip
    data_dir = context.settings.data_dir

    scheduled = run_cli(data_dir, "agents", "dream", "dreamer")
    assert scheduled.returncode == 0, scheduled.stderr
    assert "dreams next at" in scheduled.stdout and "03:30 Europe/Berlin" in scheduled.stdout
    assert "does not dream" in run_cli(data_dir, "agents", "dream", "awake").stdout

    dreamt = run_cli(data_dir, "agents", "dream", "dreamer", "--now", "--wait")
    assert dreamt.returncode == 0, dreamt.stderr + dreamt.stdout
    assert " succeeded" in dreamt.stdout and "I merged 2 near-duplicates into 1 memory" in dreamt.stdout

    diary = run_cli(data_dir, "agents", "dreams", "dreamer")
    assert diary.returncode == 0 and '"The nas backup runs at 02:00" (rule)' in diary.stdout
    [dream] = json.loads(run_cli(data_dir, "agents", "dreams", "dreamer", "--json").stdout)
    assert dream["counts"]["merged_items"] == 2 and dream["snapshot_id"] is not None
    assert "has not dreamt yet" in run_cli(data_dir, "agents", "dreams", "awake").stdout
