"""The server's event sources follow account changes made through the API at once, not at the hub's
next periodic rescan: with the rescan pushed an hour away, an account added through the API starts
taking mail, and switching it off stops it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import Run
from meshclaw.runs import connector_hub
from tests.accounts.test_events import deliver
from tests.conftest import People
from tests.runs.records import save_agent
from tests.servers.mail import MailServer, mail_server  # noqa: F401  (fixture)


@pytest.fixture(autouse=True)
def no_periodic_rescan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the scan at start-up and the API's pokes remain (the app starts after this fixture)."""
    monkeypatch.setattr(connector_hub, "RESCAN_S", 3600.0)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        data_dir=tmp_path, database_url=database_url, runs_executor="tests.runs.scripted:build"
    )


def mail_until_a_run(server: MailServer, to: str, runs: Callable[[], list[Run]], *, within: float) -> int:
    """Deliver a message every 3 s until a run appears (mail that arrives before the source looks is never
    announced, by design); the number of messages sent."""
    sent = 0
    deadline = time.monotonic() + within
    while not runs() and time.monotonic() < deadline:
        deliver(server, to, f"invoice {uuid.uuid4().hex[:8]}")
        sent += 1
        for _ in range(30):
            if runs():
                break
            time.sleep(0.1)
    return sent


def test_an_account_added_or_switched_off_through_the_api_takes_effect_at_once(
    app_client: TestClient, context: AppContext, org_id: int, people: People,
    mail_server: MailServer,  # noqa: F811
) -> None:  # fmt: skip
    owner = people.add()
    stored = app_client.post("/api/v1/vault/secrets", headers=owner.auth,
                             json={"name": "mail-password", "value": mail_server.password("carol")})  # fmt: skip
    assert stored.status_code == 201, stored.text
    agent_id = save_agent(context, org_id, owner, "triage", settings={"tool_calls": 0}, allow_overlap=True,
                          triggers=[{"kind": "event", "event": "email.received", "match": {"account": "work-mail"}}])  # fmt: skip

    def runs() -> list[Run]:
        with context.db.session() as session:
            return list(session.query(Run).filter(Run.agent_id == agent_id).all())

    config = {"address": mail_server.address("carol"), "username": "carol", "password": "vault:mail-password",
              "imap_host": mail_server.host, "imap_port": mail_server.imap_port, "imap_security": "plain",
              "smtp_host": mail_server.host, "smtp_port": mail_server.smtp_port, "smtp_security": "plain",
              "timeout_seconds": 5}  # fmt: skip
    added = app_client.post("/api/v1/accounts", headers=owner.auth,
                            json={"name": "work-mail", "connector": "email", "config": config})  # fmt: skip
    assert added.status_code == 201, added.text
    sent = mail_until_a_run(mail_server, mail_server.address("carol"), runs, within=30)
    assert runs(), f"no run after {sent} messages: the hub did not start the new account's source"

    switched = app_client.patch("/api/v1/accounts/work-mail", headers=owner.auth, json={"enabled": False})
    assert switched.status_code == 200, switched.text
    time.sleep(1)  # the poke is handled on the server's loop; the IDLE session then closes
    before = len(runs())
    deliver(mail_server, mail_server.address("carol"), "after it was switched off")
    time.sleep(4)
    assert len(runs()) == before, "mail to a switched-off account still started a run"
