"""Kill switches on the real app and the real DBOS engine: a running run stops before its next tool call and
ends `cancelled` naming the switch (engaged through the API, or by another process straight in the
database); new runs are skipped and triggers do not fire until it is released; who may pull and release
which switch; every engage and release is an audit record; the owner is notified; the CLI; and what the
check before each call costs."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import AuditEvent
from meshclaw.identity.principal import Role
from meshclaw.runs import kill_switches, store
from meshclaw.runs.engine import RunEngine
from meshclaw.runs.kill_switches import SwitchBoard
from tests.cli_runner import run_cli
from tests.conftest import People
from tests.runs.conftest import SCRIPTED
from tests.runs.records import save_agent, wait_final

SLOW = {"tool_calls": 6, "tool_sleep": 0.4}


def attempts(context: AppContext) -> list[str]:
    log = Path(context.settings.data_dir) / "effects" / "attempts.log"
    return log.read_text().splitlines() if log.exists() else []


def wait_attempts(context: AppContext, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while len(attempts(context)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} tool calls within {timeout} s"
        time.sleep(0.02)


def audit_kinds(context: AppContext) -> list[tuple[str, str | None, str | None]]:
    with context.db.session() as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        return [(row.kind, row.target, row.invoked_by) for row in rows]


def run_error(context: AppContext, run_id: str) -> str:
    with context.db.session() as session:
        run = store.get_run(session, run_id)
        assert run is not None
        return run.error or ""


def test_an_agent_switch_stops_its_running_run_before_the_next_tool_call_and_skips_new_runs(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    agent_id = save_agent(context, org_id, owner, "looper", settings=SLOW)
    other = save_agent(context, org_id, owner, "bystander", settings={"tool_calls": 1})
    run_id = app_client.post("/api/v1/runs", json={"agent": agent_id}, headers=owner.auth).json()["id"]
    wait_attempts(context, 1)

    engaged = app_client.post(
        "/api/v1/kill-switches",
        json={"scope": "agent", "target": agent_id, "reason": "it emails the wrong people"},
        headers=owner.auth,
    )
    assert engaged.status_code == 201, engaged.text
    body = engaged.json()
    assert (body["scope"], body["target_id"], body["engaged"]) == ("agent", agent_id, True)
    assert body["stopped_run_ids"] == [run_id]
    calls_when_engaged = len(attempts(context))

    assert wait_final(context, run_id) == "cancelled"
    assert run_error(context, run_id) == (
        "stopped by the kill switch on agent 'looper': it emails the wrong people"
    )
    time.sleep(0.6)  # longer than one tool call: a run that kept going would have made another
    assert len(attempts(context)) <= calls_when_engaged + 1  # at most the call already under way
    assert len(attempts(context)) < SLOW["tool_calls"]

    refused = app_client.post("/api/v1/runs", json={"agent": agent_id}, headers=owner.auth).json()
    assert refused["status"] == "skipped"
    assert refused["error"] == "the kill switch on agent 'looper' is engaged (it emails the wrong people)"
    bystander = app_client.post("/api/v1/runs", json={"agent": other}, headers=owner.auth).json()
    assert wait_final(context, bystander["id"]) == "succeeded"  # another agent of the owner runs on

    again = app_client.post(
        "/api/v1/kill-switches", json={"scope": "agent", "target": agent_id}, headers=owner.auth
    )
    assert again.status_code == 409
    released = app_client.post(f"/api/v1/kill-switches/{body['id']}/release", headers=owner.auth)
    assert released.status_code == 200 and released.json()["engaged"] is False
    after = app_client.post("/api/v1/runs", json={"agent": agent_id}, headers=owner.auth).json()
    assert after["status"] == "queued"
    assert wait_final(context, after["id"], timeout=30) == "succeeded"

    switch = f"kill_switch:{body['id']}"
    assert [k for k in audit_kinds(context) if k[1] == switch] == [
        ("admin.kill_switch_engaged", switch, f"api-key:{_key_id(context, owner.id)}"),
        ("admin.kill_switch_released", switch, f"api-key:{_key_id(context, owner.id)}"),
    ]
    listed = app_client.get("/api/v1/kill-switches", headers=owner.auth).json()
    assert [(s["id"], s["engaged"]) for s in listed] == [(body["id"], False)]


def _key_id(context: AppContext, user_id: int) -> int:
    from meshclaw.db.models import ApiKey

    with context.db.session() as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.owner_user_id == user_id))
        assert key_id is not None
        return key_id


def test_a_switch_engaged_by_another_process_stops_the_run_within_a_second(
    app_client: TestClient, context: AppContext, org_id: int, people: People, engine: RunEngine
) -> None:
    """What the CLI or a second server does: only the database changes; this process's engine is not told."""
    owner = people.add()
    save_agent(context, org_id, owner, "looper", settings=SLOW)
    run_id = app_client.post("/api/v1/runs", json={"agent": "looper"}, headers=owner.auth).json()["id"]
    wait_attempts(context, 1)
    with context.db.session() as session:
        kill_switches.engage(session, org_id=org_id, scope="user", target_id=owner.id, reason="on leave",
                             by_user_id=None, now=context.clock.now())  # fmt: skip
    engaged_at = time.monotonic()
    calls_when_engaged = len(attempts(context))
    assert wait_final(context, run_id) == "cancelled"
    assert run_error(context, run_id) == f"stopped by the kill switch on {owner.email}'s agents: on leave"
    # The board is re-read at most every second; one tool call (0.4 s) may be under way meanwhile.
    deadline = engaged_at + 1.0 + 2 * SLOW["tool_sleep"]
    while time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(attempts(context)) <= calls_when_engaged + 3
    assert len(attempts(context)) < SLOW["tool_calls"]


def test_triggers_do_not_fire_under_a_switch_and_fire_again_once_released(
    app_client: TestClient, context: AppContext, org_id: int, people: People, engine: RunEngine
) -> None:
    owner = people.add()
    admin = people.add(Role.ADMIN)
    save_agent(context, org_id, owner, "poller", settings={"tool_calls": 0},
               triggers=[{"kind": "interval", "every_seconds": 60}])  # fmt: skip
    engaged = app_client.post(
        "/api/v1/kill-switches", json={"scope": "org", "reason": "incident 42"}, headers=admin.auth
    ).json()
    seven = datetime(2026, 12, 1, 7, 0, 1, tzinfo=UTC)
    assert engine.tick(seven) == []
    with context.db.session() as session:
        assert store.list_runs(session, org_id) == []
    app_client.post(f"/api/v1/kill-switches/{engaged['id']}/release", headers=admin.auth)
    assert len(engine.tick(seven + timedelta(seconds=60))) == 1


def test_who_may_pull_and_release_which_switch(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    team = people.team("Ops")
    owner = people.add(team_id=team)
    manager = people.add(Role.MANAGER, team_id=team)
    stranger = people.add()
    admin = people.add(Role.ADMIN)
    agent_id = save_agent(context, org_id, owner, settings={"tool_calls": 0})

    def engage(person: object, **body: object) -> int:
        return app_client.post("/api/v1/kill-switches", json=body, headers=person.auth).status_code  # type: ignore[attr-defined]

    assert engage(owner, scope="org") == 403
    assert engage(manager, scope="org") == 403
    assert engage(stranger, scope="agent", target=agent_id) == 404  # an agent you cannot see
    assert engage(manager, scope="agent", target=agent_id) == 403  # managers read their team's agents only
    assert engage(stranger, scope="user", target=owner.email) == 403
    assert engage(owner, scope="user", target="nobody@example.org") == 404
    assert engage(owner, scope="org", target=3) == 422

    by_admin = app_client.post(
        "/api/v1/kill-switches",
        json={"scope": "agent", "target": agent_id, "reason": "review"},
        headers=admin.auth,
    ).json()
    assert (
        app_client.post(f"/api/v1/kill-switches/{by_admin['id']}/release", headers=owner.auth).status_code
        == 403
    )
    assert (
        app_client.post(f"/api/v1/kill-switches/{by_admin['id']}/release", headers=admin.auth).status_code
        == 200
    )

    mine = app_client.post(
        "/api/v1/kill-switches", json={"scope": "user", "target": owner.email}, headers=owner.auth
    )
    assert mine.status_code == 201 and mine.json()["reason"] == "no reason given"
    assert (
        app_client.post(f"/api/v1/kill-switches/{mine.json()['id']}/release", headers=owner.auth).status_code
        == 200
    )
    org = app_client.post(
        "/api/v1/kill-switches", json={"scope": "org", "reason": "drill"}, headers=admin.auth
    )
    assert org.status_code == 201 and org.json()["label"] == "the organization-wide kill switch"

    # The owner was told about the admin's switch on their agent; not about their own, and not about the
    # organization's, which stopped no run of theirs.
    notes = app_client.get("/api/v1/notifications", headers=owner.auth).json()
    assert notes["unread"] == 1
    [note] = notes["items"]
    assert note["kind"] == "kill_switch.engaged" and "review" in note["text"]
    marked = app_client.post("/api/v1/notifications/read", json={}, headers=owner.auth).json()
    assert marked == {"marked": 1}
    assert app_client.get("/api/v1/notifications", headers=owner.auth).json()["unread"] == 0
    assert app_client.get("/api/v1/notifications", headers=admin.auth).json()["items"] == []


def test_enabling_and_disabling_an_agent_is_audited(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    agent_id = save_agent(context, org_id, owner, settings={"tool_calls": 0})
    assert app_client.post(f"/api/v1/agents/{agent_id}/disable", headers=owner.auth).status_code == 200
    assert app_client.post(f"/api/v1/agents/{agent_id}/enable", headers=owner.auth).status_code == 200
    assert [k[0] for k in audit_kinds(context) if k[1] == f"agent:{agent_id}"] == [
        "admin.agent_disabled",
        "admin.agent_enabled",
    ]


def test_the_cli_engages_lists_and_releases(context: AppContext, org_id: int, people: People) -> None:
    owner = people.add(email="ada@example.org")
    save_agent(context, org_id, owner, "triage", settings={"tool_calls": 0})
    data_dir = Path(context.settings.data_dir)
    url = context.settings.database_url
    done = run_cli(data_dir, "kill", "agent", "triage", "--reason", "too chatty", database_url=url)
    assert done.returncode == 0, done.stderr
    assert "engaged kill switch 1: the kill switch on agent 'triage'; 0 active run(s) stopped" in done.stdout
    assert run_cli(data_dir, "kill", "user", "ada@example.org", database_url=url).returncode == 0
    assert run_cli(data_dir, "kill", "org", "--reason", "drill", database_url=url).returncode == 0
    again = run_cli(data_dir, "kill", "org", database_url=url)
    assert again.returncode == 2 and "already engaged" in again.stderr
    listed = run_cli(data_dir, "kill", "list", database_url=url).stdout
    assert "organization-wide" in listed and "too chatty" in listed
    assert run_cli(data_dir, "kill", "release", "3", database_url=url).returncode == 0
    assert "organization-wide" not in run_cli(data_dir, "kill", "list", database_url=url).stdout
    assert run_cli(data_dir, "kill", "agent", "nope", database_url=url).returncode == 2
    kinds = [k for k in audit_kinds(context) if k[0].startswith("admin.kill_switch")]
    assert [k[2] for k in kinds] == ["cli"] * 4
    assert [k[0] for k in kinds][-1] == "admin.kill_switch_released"


def test_the_check_before_each_call_costs_microseconds(context: AppContext, org_id: int) -> None:
    """Measured, not assumed: a check answered from memory, and the re-read once a second per process."""
    board = SwitchBoard(context.db, ttl_s=3600)
    board.refresh()
    with context.db.session() as session:
        kill_switches.engage(session, org_id=org_id, scope="agent", target_id=99, reason="x", by_user_id=None,
                             now=context.clock.now())  # fmt: skip
    started = time.perf_counter()
    for _ in range(10_000):
        board.stops(agent_id=1, owner_user_id=1)
    hit_us = (time.perf_counter() - started) / 10_000 * 1e6
    started = time.perf_counter()
    for _ in range(50):
        board.refresh()
    refresh_ms = (time.perf_counter() - started) / 50 * 1000
    print(f"SwitchBoard.stops from memory: {hit_us:.2f} us; re-read: {refresh_ms:.3f} ms")
    assert hit_us < 50 and refresh_ms < 50  # generous bounds: a shared, loaded 2-core machine
    assert board.stops(agent_id=99, owner_user_id=1) and not board.stops(agent_id=1, owner_user_id=1)


def test_while_runs_go_the_copy_is_re_read_off_their_event_loop(context: AppContext, org_id: int) -> None:
    """The checks run on the runs' event loop: the re-reads of the engaged switches must not (a blocking
    query there stalls every run of the process), yet a switch engaged by another process is still seen
    within ttl_s."""
    ttl_s = 0.3
    board = SwitchBoard(context.db, ttl_s=ttl_s)
    readers: list[int] = []

    def note_reader(conn: object, cursor: object, statement: str, *_: object) -> None:
        if "FROM kill_switches" in statement:
            readers.append(threading.get_ident())

    async def checks() -> tuple[int, int, float]:
        loop_thread = threading.get_ident()
        board.stops(agent_id=5, owner_user_id=1)  # the first check after a quiet spell reads at once
        first = len(readers)
        started = time.monotonic()
        while time.monotonic() - started < 4 * ttl_s:
            assert not board.stops(agent_id=5, owner_user_id=1)
            await asyncio.sleep(0.01)
        with context.db.session() as session:  # another process: this board is not told
            kill_switches.engage(session, org_id=org_id, scope="agent", target_id=5, reason="x",
                                 by_user_id=None, now=context.clock.now())  # fmt: skip
        engaged_at = time.monotonic()
        while not board.stops(agent_id=5, owner_user_id=1):
            await asyncio.sleep(0.01)
        return loop_thread, first, time.monotonic() - engaged_at

    event.listen(context.db.engine, "before_cursor_execute", note_reader)
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:  # not asyncio.run on the main thread (Playwright)
            loop_thread, first, seen_after = pool.submit(asyncio.run, checks()).result()
    finally:
        event.remove(context.db.engine, "before_cursor_execute", note_reader)
    while_going = readers[first:]
    assert len(while_going) >= 4  # re-read about every ttl_s / 2 while the checks went on
    assert while_going.count(loop_thread) <= 1  # the one read that confirms the yes, not the re-reads
    assert seen_after < ttl_s + 0.5


class TestQueued:
    """One run at a time per person, so a second run of the same owner waits in the queue."""

    @pytest.fixture
    def settings(self, tmp_path: Path, database_url: str) -> Settings:
        return load_settings(
            data_dir=tmp_path, database_url=database_url, runs_executor=SCRIPTED, runs_user_concurrency=1
        )

    def test_a_queued_run_under_a_switch_never_starts(
        self, app_client: TestClient, context: AppContext, org_id: int, people: People
    ) -> None:
        owner = people.add()
        save_agent(context, org_id, owner, "first", settings=SLOW)
        save_agent(context, org_id, owner, "second", settings={"tool_calls": 1})
        running = app_client.post("/api/v1/runs", json={"agent": "first"}, headers=owner.auth).json()["id"]
        wait_attempts(context, 1)
        queued = app_client.post("/api/v1/runs", json={"agent": "second"}, headers=owner.auth).json()
        assert queued["status"] == "queued"
        with context.db.session() as session:  # another process: this one's engine is not told
            engaged = kill_switches.engage(session, org_id=org_id, scope="user", target_id=owner.id,
                                           reason="stop", by_user_id=None, now=context.clock.now())  # fmt: skip
        assert sorted(engaged.stopped_run_ids) == sorted([running, queued["id"]])
        assert wait_final(context, running) == "cancelled"
        time.sleep(2 + SLOW["tool_sleep"])  # the first run stops; the queue would start the second by now
        assert not any(line.startswith(f"{queued['id']}:") for line in attempts(context))
        with context.db.session() as session:
            run = store.get_run(session, queued["id"])
            assert run is not None and (run.status, run.started_at) == ("cancelled", run.ended_at)
