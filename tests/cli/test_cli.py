"""The `meshclaw` command as an operator runs it, with MESHCLAW_DATA_DIR pointing at a temporary directory.
Results are checked in the database and through the HTTP API, not only in the printed text.

Commands run in-process (tests.cli_runner: the same Typer app, arguments, environment and exit codes);
`meshclaw up` runs through the installed entry point in a subprocess, which also covers the script itself.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.config import load_settings
from meshclaw.context import AppContext
from meshclaw.db.migrate import upgrade
from meshclaw.db.models import SetupToken, Team, User
from meshclaw.identity import store
from meshclaw.identity.passwords import verify_password
from meshclaw.identity.tokens import digest
from meshclaw.server.app import create_app
from tests.cli_runner import Done, run_cli
from tests.conftest import free_port

MESHCLAW = Path(sys.executable).with_name("meshclaw")
HEADER = "email,name,team,manager_email,role\n"


def run(data_dir: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Done:
    return run_cli(data_dir, *args, stdin=stdin, env=env)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    assert MESHCLAW.exists(), f"the entry point {MESHCLAW} is not installed; run `make test-deps`"
    return tmp_path


@pytest.fixture
def app_context(data_dir: Path) -> Iterator[AppContext]:
    """An in-process view of the same data directory the command uses."""
    context = AppContext.from_settings(load_settings(data_dir=data_dir))
    upgrade(context.db)
    yield context
    context.db.dispose()


def add_user(context: AppContext, email: str) -> None:
    with context.db.session() as session:
        org, _ = store.ensure_org(session, name="MeshClaw", now=context.clock.now())
        store.create_user(session, org_id=org.id, email=email, now=context.clock.now())


def users(context: AppContext) -> dict[str, User]:
    with context.db.session() as session:
        return {u.email: u for u in session.scalars(select(User))}


def test_teams_and_users_add_with_parent_team_manager_role_and_password(data_dir: Path) -> None:
    assert run(data_dir, "teams", "add", "Engineering").returncode == 0
    platform = run(data_dir, "teams", "add", "Platform", "--parent", "Engineering")
    assert platform.returncode == 0, platform.stderr
    assert "Added team Platform" in platform.stdout
    boss = run(data_dir, "users", "add", "boss@example.org", "--role", "manager", "--team", "Engineering")
    assert boss.returncode == 0, boss.stderr
    ada = run(
        data_dir,
        "users", "add", "Ada@Example.org", "--name", "Ada Lovelace", "--team", "Platform",
        "--manager", "boss@example.org", "--password-stdin",
        stdin="correct horse battery staple\n",
    )  # fmt: skip
    assert ada.returncode == 0, ada.stderr
    assert "correct horse" not in ada.stdout + ada.stderr
    context = AppContext.from_settings(load_settings(data_dir=data_dir))
    try:
        people = users(context)
        with context.db.session() as session:
            teams = {t.name: t for t in session.scalars(select(Team))}
    finally:
        context.db.dispose()
    assert teams["Platform"].parent_id == teams["Engineering"].id
    new = people["ada@example.org"]
    assert (new.name, new.role, new.team_id) == ("Ada Lovelace", "member", teams["Platform"].id)
    assert new.manager_id == people["boss@example.org"].id
    assert people["boss@example.org"].role == "manager"
    assert verify_password(new.password_hash, "correct horse battery staple")


def test_a_bad_role_exits_2_with_a_clear_message_and_writes_nothing(
    data_dir: Path, app_context: AppContext
) -> None:
    result = run(data_dir, "users", "add", "x@example.org", "--role", "wizard")
    assert result.returncode == 2
    assert "unknown role 'wizard'; use one of: member, manager, admin, auditor" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert users(app_context) == {}


def test_an_unknown_team_exits_2_with_a_clear_message(data_dir: Path, app_context: AppContext) -> None:
    result = run(data_dir, "users", "add", "x@example.org", "--team", "Nowhere")
    assert result.returncode == 2
    assert "no team named 'Nowhere'; create it with `meshclaw teams add 'Nowhere'`" in result.stderr
    assert "Traceback" not in result.stderr
    assert users(app_context) == {}


def test_keys_create_prints_a_working_key_on_the_last_line_and_revoke_stops_it(
    data_dir: Path, app_context: AppContext
) -> None:
    add_user(app_context, "ada@example.org")
    created = run(
        data_dir, "keys", "create", "--user", "ada@example.org", "--name", "laptop", "--scope", "api:read"
    )
    assert created.returncode == 0, created.stderr
    key = created.stdout.rstrip("\n").splitlines()[-1]
    assert re.fullmatch(r"mc_[0-9a-f]{8}_[A-Za-z0-9_-]{40,}", key), created.stdout
    assert key not in created.stderr
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(app_context)) as client:
        me = client.get("/api/v1/me", headers=auth)
        assert me.status_code == 200
        assert (me.json()["email"], me.json()["key_scopes"]) == ("ada@example.org", ["api:read"])
        prefix = key.split("_")[1]
        revoked = run(data_dir, "keys", "revoke", prefix)
        assert revoked.returncode == 0, revoked.stderr
        assert prefix in revoked.stdout
        assert client.get("/api/v1/me", headers=auth).status_code == 401


def test_org_import_with_row_errors_exits_2_lists_rows_and_writes_nothing(
    data_dir: Path, app_context: AppContext
) -> None:
    people = data_dir / "people.csv"
    people.write_text(
        HEADER
        + "ok@example.org,Ok,Eng,,member\n"
        + "not-an-email,,,,member\n"
        + "x@example.org,,,,wizard\n"
        + "y@example.org,,,ghost@example.org,\n"
    )
    result = run(data_dir, "org", "import", str(people))
    assert result.returncode == 2
    assert "nothing was written" in result.stderr
    for line in ("row 2, email:", "row 3, role:", "row 4, manager_email:"):
        assert line in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert users(app_context) == {}


def test_org_import_creates_people_then_updates_them(data_dir: Path, app_context: AppContext) -> None:
    people = data_dir / "people.csv"
    people.write_text(
        HEADER
        + "lead@example.org,Lead,Eng/Platform,,manager\ndev@example.org,Dev,Eng/Platform,lead@example.org,\n"
    )
    first = run(data_dir, "org", "import", str(people))
    assert first.returncode == 0, first.stderr
    assert "Imported 2 new and 0 updated people; created 2 teams." in first.stdout
    people.write_text(HEADER + "dev@example.org,Dev Renamed,Eng,lead@example.org,\n")
    again = run(data_dir, "org", "import", str(people), "--update")
    assert again.returncode == 0, again.stderr
    assert "Imported 0 new and 1 updated people" in again.stdout
    assert users(app_context)["dev@example.org"].name == "Dev Renamed"


def test_doctor_passes_on_a_good_setup(data_dir: Path, app_context: AppContext) -> None:
    result = run(data_dir, "doctor", "--skip-port")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "migrations" in result.stdout
    assert "fix" not in result.stdout


def test_doctor_says_what_to_fix_when_the_database_is_unreachable(data_dir: Path) -> None:
    result = run(
        data_dir, "doctor", "--skip-port", env={"MESHCLAW_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}
    )
    assert result.returncode == 1
    assert "cannot connect" in result.stdout
    assert "MESHCLAW_DATABASE_URL" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_up_prints_the_setup_link_and_serves_healthz(data_dir: Path) -> None:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MESHCLAW_")}
    process = subprocess.Popen(
        [str(MESHCLAW), "up", "--port", str(port)],
        cwd=data_dir,
        env={**clean, "MESHCLAW_DATA_DIR": str(data_dir), "COLUMNS": "300"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        healthy = False
        # One client for the wait: each httpx.get builds a TLS context (~55 ms of CPU).
        with httpx.Client(timeout=1) as http:
            while time.monotonic() < deadline and process.poll() is None:
                with contextlib.suppress(httpx.HTTPError):
                    healthy = http.get(f"{url}/healthz").text == "ok"
                if healthy:
                    break
                time.sleep(0.1)
        assert healthy, f"no /healthz within 60 s; exit code {process.poll()}"
        # The link must be visible while the server runs (an operator reads it from the live log).
        link_deadline = time.monotonic() + 5
        while time.monotonic() < link_deadline and not any("/setup/" in line for line in lines):
            time.sleep(0.05)
        output = "".join(lines)
        found = re.search(rf"{re.escape(url)}/setup/([A-Za-z0-9_-]+)", output)
        assert found, output
        assert "Created organization" in output
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        reader.join(timeout=5)
    # Only the link's digest is stored, and it is an unused first-admin link.
    context = AppContext.from_settings(load_settings(data_dir=data_dir))
    try:
        with context.db.session() as session:
            token = session.scalars(select(SetupToken)).one()
    finally:
        context.db.dispose()
    assert token.token_hash == digest(found.group(1))
    assert (token.purpose, token.used_at) == ("first_admin", None)
