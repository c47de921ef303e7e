"""The crash test, on SQLite and on PostgreSQL: `kill -9` the server while 50 runs are in progress, start it
again, and every run completes without a completed tool effect being executed twice.

A real `meshclaw up` runs the scripted agent (`tests.runs.scripted`): 3 tool calls per run, each sleeping
a little inside the call so the kill lands mid-call for some. Every attempt of a call is logged with the
server's pid and the call's idempotency key. A key attempted twice must be a call the kill cut off (its
first attempt by the killed server), and at most as many as were running at the kill; every other call
ran exactly once, and every call left exactly one effect record.
"""

from __future__ import annotations

import collections
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from meshclaw.config import load_settings
from meshclaw.context import AppContext
from meshclaw.db.migrate import upgrade
from meshclaw.db.models import Run
from meshclaw.identity import store
from meshclaw.identity.principal import Role
from meshclaw.runs.store import FINAL
from tests.conftest import free_port
from tests.meshclaw_up import start_meshclaw_up
from tests.postgres import BOTH_BACKENDS
from tests.runs.records import save_agent
from tests.runs.scripted import TOOL

RUNS = 50
CALLS = 3
USER_CONCURRENCY = 10


def start_server(data_dir: Path, port: int, database_url: str) -> subprocess.Popen[bytes]:
    return start_meshclaw_up(
        data_dir,
        port,
        {
            "MESHCLAW_DATABASE_URL": database_url,
            "MESHCLAW_RUNS_EXECUTOR": "tests.runs.scripted:build",
            "MESHCLAW_RUNS_AGENT_CONCURRENCY": str(RUNS),
            "MESHCLAW_RUNS_USER_CONCURRENCY": str(USER_CONCURRENCY),
        },
    )


def attempts(data_dir: Path) -> list[tuple[str, int]]:
    path = data_dir / "effects" / "attempts.log"
    if not path.exists():
        return []
    return [(key, int(pid)) for key, pid in (line.split() for line in path.read_text().splitlines())]


@pytest.mark.timeout(600)
@BOTH_BACKENDS
def test_kill_9_mid_runs_then_every_run_completes_and_no_effect_repeats(
    tmp_path: Path, database_url: str
) -> None:
    # On PostgreSQL the runs engine keeps its checkpoints in the same database (schema `dbos`).
    context = AppContext.from_settings(load_settings(data_dir=tmp_path, database_url=database_url))
    upgrade(context.db)
    now = context.clock.now()
    with context.db.session() as session:
        org, _ = store.ensure_org(session, name="Test Org", now=now)
        user = store.create_user(session, org_id=org.id, email="owner@example.org", role=Role.MEMBER,
                                 team_id=None, manager_id=None, now=now)  # fmt: skip
        _, key = store.create_key(
            session, org_id=org.id, owner_user_id=user.id, name="runs", scopes=None, now=now
        )
    from tests.conftest import Person

    owner = Person(id=user.id, email=user.email, role=Role.MEMBER, team_id=None, key=key)
    # The 50 runs call their tools in step, so effects come in bursts of up to 50 one tool_sleep apart: 1 s
    # leaves the kill below room to land between bursts (at 0.3 s all 150 were once done before it landed).
    save_agent(context, org.id, owner, "effects", allow_overlap=True, daily={"max_runs": 1000},
               settings={"tool_calls": CALLS, "tool_sleep": 1.0})  # fmt: skip
    context.db.dispose()

    server = start_server(tmp_path, free_port(), database_url)
    port = int(server.args[-1])  # type: ignore[index]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=owner.auth, timeout=30) as client:
        run_ids = [client.post("/api/v1/runs", json={"agent": "effects"}).json()["id"] for _ in range(RUNS)]
    deadline = time.monotonic() + 120
    while len(attempts(tmp_path)) < RUNS * CALLS // 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.send_signal(signal.SIGKILL)
    server.wait()
    killed_pid = server.pid
    before = attempts(tmp_path)
    assert RUNS * CALLS // 3 <= len(before) < RUNS * CALLS, "the kill did not land mid-way"

    restarted = start_server(tmp_path, free_port(), database_url)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with context.db.session() as session:
                statuses = dict(session.execute(select(Run.id, Run.status)).all())
            if all(statuses.get(run_id) in FINAL for run_id in run_ids):
                break
            time.sleep(0.2)
    finally:
        restarted.terminate()
        restarted.wait(timeout=60)
        context.db.dispose()

    assert collections.Counter(statuses[run_id] for run_id in run_ids) == {"succeeded": RUNS}
    every = attempts(tmp_path)
    keys = {f"{run_id}:{n}" for run_id in run_ids for n in range(1, CALLS + 1)}
    per_key = collections.Counter(key for key, _ in every)
    assert set(per_key) == keys
    repeated = {key for key, count in per_key.items() if count > 1}
    first_pid = {key: pid for key, pid in reversed(every)}
    assert all(first_pid[key] == killed_pid and per_key[key] == 2 for key in repeated), repeated
    assert len(repeated) <= USER_CONCURRENCY, repeated
    records = {path.name for path in (tmp_path / "effects").iterdir() if path.name != "attempts.log"}
    assert records == {key.replace(":", "_") for key in keys}
    print(f"attempts before the kill {len(before)}, repeated after it {len(repeated)} (cut off mid-call)")
    assert TOOL
