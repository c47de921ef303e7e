"""Trigger conditions answered by a real calendar (Radicale) through the server: while the owner's
calendar shows a meeting, an `owner_in_meeting` trigger runs and an `owner_not_in_meeting` one is skipped
with the reason; an owner without a calendar account gets skipped runs that say why."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import Run
from meshclaw.runs.engine import RunEngine
from tests.conftest import People
from tests.connectors.calendar.conftest import make_calendar, vevent
from tests.runs.records import save_agent
from tests.servers.calendar import USERS, CalendarServer, radicale  # noqa: F401  (fixture)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        data_dir=tmp_path, database_url=database_url, runs_executor="tests.runs.scripted:build"
    )


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def test_calendar_conditions_gate_triggers(
    app_client: TestClient, engine: RunEngine, context: AppContext, org_id: int, people: People,
    radicale: CalendarServer,  # noqa: F811
) -> None:  # fmt: skip
    owner, stranger = people.add(), people.add()
    calendar_id = make_calendar(radicale, "alice", "Conditions e2e")
    now = datetime.now(UTC)
    lines = f"DTSTART:{stamp(now - timedelta(hours=1))}\nDTEND:{stamp(now + timedelta(hours=1))}"
    radicale.put("alice", calendar_id, "standup.ics", vevent("standup-e2e", lines))
    stored = app_client.post("/api/v1/vault/secrets", headers=owner.auth,
                             json={"name": "caldav-password", "value": USERS["alice"]})  # fmt: skip
    assert stored.status_code == 201, stored.text
    added = app_client.post("/api/v1/accounts", headers=owner.auth, json={
        "name": "work-calendar", "connector": "calendar",
        "config": {"url": radicale.url, "username": "alice", "password": "vault:caldav-password",
                   "calendars": [calendar_id]}})  # fmt: skip
    assert added.status_code == 201, added.text

    def watcher(person: object, name: str, condition: str) -> int:
        return save_agent(context, org_id, person, name, settings={"tool_calls": 0},  # type: ignore[arg-type]
                          triggers=[{"kind": "event", "event": "deployment.started", "condition": condition}])  # fmt: skip

    busy = watcher(owner, "while-busy", "owner_in_meeting")
    free = watcher(owner, "while-free", "owner_not_in_meeting")
    homeless = watcher(stranger, "no-calendar", "owner_in_meeting")
    # From a worker thread, as the server calls it (conditions run their own loop to ask the calendar).
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(engine.publish, "deployment.started", {"service": "web"}, untrusted=False).result()
    with context.db.session() as session:
        runs = {run.agent_id: run for run in session.query(Run).all()}
    assert runs[busy].status != "skipped"
    assert (
        runs[free].status == "skipped"
        and runs[free].error == "condition 'owner_not_in_meeting' does not hold"
    )
    assert runs[homeless].status == "skipped"
    assert "owner has no calendar account" in (runs[homeless].error or "")
