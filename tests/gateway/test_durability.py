"""Deliverable 4: usage survives `kill -9` under load.

A real `meshclaw up` process serves concurrent calls to the stub upstream (its own process, keeping its
own count); the server is killed with SIGKILL mid-load and started again, which replays the metering
journal. Then every call the stub served has exactly one usage record, except calls in flight at the kill
(at most the load's concurrency), and every call a client got an answer for is recorded (the gateway
journals a call before it answers)."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from meshclaw.config import load_settings
from meshclaw.context import AppContext
from meshclaw.db.migrate import upgrade
from meshclaw.db.models.metering import UsageEventRow
from meshclaw.identity import store
from meshclaw.identity.principal import Role
from meshclaw.providers.registry import add_provider
from tests.conftest import free_port
from tests.meshclaw_up import start_meshclaw_up
from tests.postgres import BOTH_BACKENDS
from tests.stub_upstream import stub_process

CONCURRENCY = 8
KEY_ENV = "MESHCLAW_TEST_STUB_KEY"


def start_server(data_dir: Path, database_url: str, port: int) -> subprocess.Popen[bytes]:
    return start_meshclaw_up(
        data_dir, port, {"MESHCLAW_DATABASE_URL": database_url, KEY_ENV: "sk-provider-durability"}
    )


@BOTH_BACKENDS
@pytest.mark.timeout(600)
def test_usage_matches_what_the_upstream_served_after_kill_9(tmp_path: Path, database_url: str) -> None:
    context = AppContext.from_settings(load_settings(data_dir=tmp_path, database_url=database_url))
    upgrade(context.db)
    with stub_process() as stub:
        now = context.clock.now()
        with context.db.session() as session:
            org, _ = store.ensure_org(session, name="Test Org", now=now)
            user = store.create_user(session, org_id=org.id, email="load@example.org", role=Role.MEMBER,
                                     team_id=None, manager_id=None, now=now)  # fmt: skip
            _, key = store.create_key(session, org_id=org.id, owner_user_id=user.id, name="load",
                                      scopes=["gateway"], now=now)  # fmt: skip
            add_provider(session, name="stub", kind="openai", base_url=stub.url, api_key_env=KEY_ENV,
                         models=["stub-small"], now=now)  # fmt: skip
        context.db.dispose()  # no connection of this process may hold anything the server's start waits on
        port = free_port()
        server = start_server(tmp_path, database_url, port)
        answered = 0
        lock = threading.Lock()
        stop = threading.Event()

        def load() -> None:
            nonlocal answered
            body = {"model": "stub-small", "messages": [{"role": "user", "content": "count me once"}]}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
                while not stop.is_set():
                    try:
                        reply = client.post(
                            "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
                        )
                    except httpx.HTTPError:
                        return  # the server is gone
                    if reply.status_code == 200:
                        with lock:
                            answered += 1

        workers = [threading.Thread(target=load) for _ in range(CONCURRENCY)]
        for worker in workers:
            worker.start()
        deadline = time.monotonic() + 30
        while stub.stats(summary=True)["requests"] < 300 and time.monotonic() < deadline:
            time.sleep(0.1)
        server.send_signal(signal.SIGKILL)
        server.wait()
        stop.set()
        for worker in workers:
            worker.join(timeout=20)
        served = stub.stats(summary=True)["requests"]
        assert served >= 300, "the load did not get going"
        assert list((tmp_path / "metering-journal").glob("*.jsonl")), "nothing was left to replay"

        restarted = start_server(tmp_path, database_url, free_port())  # replays the journal before serving
        try:
            with context.db.session() as session:
                recorded = session.scalar(
                    select(func.count()).select_from(UsageEventRow).where(UsageEventRow.source == "gateway")
                )
        finally:
            restarted.terminate()
            restarted.wait(timeout=30)
    context.db.dispose()
    assert recorded is not None
    print(
        f"served by the stub {served}, recorded {recorded}, answered to clients {answered}"
    )  # shown with -s
    assert answered <= recorded <= served, (answered, recorded, served)
    assert served - recorded <= CONCURRENCY, (served, recorded)
