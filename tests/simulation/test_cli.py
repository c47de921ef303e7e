"""`meshclaw simulate` and `meshclaw demo` as an operator runs them, on a temporary data directory:
`simulate` in-process (tests.cli_runner), `demo` (which serves) through the installed entry point."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select

from meshclaw.config import load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import User
from meshclaw.identity.passwords import verify_password
from meshclaw.simulation.run import LABELS_FILE
from tests.cli_runner import Done, run_cli
from tests.conftest import free_port, wait_until_answers

MESHCLAW = Path(sys.executable).with_name("meshclaw")


def environment(data_dir: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MESHCLAW_")}
    return {**clean, "MESHCLAW_DATA_DIR": str(data_dir), "COLUMNS": "200"}


def run(data_dir: Path, *args: str) -> Done:
    return run_cli(data_dir, *args)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    assert MESHCLAW.exists(), f"the entry point {MESHCLAW} is not installed; run `make test-deps`"
    return tmp_path


def test_simulate_writes_events_and_labels_and_refuses_a_second_run(data_dir: Path) -> None:
    args = ("simulate", "--people", "30", "--days", "3", "--seed", "5", "--last-day", "2026-11-30", "--json")
    first = run(data_dir, *args)
    assert first.returncode == 0, first.stderr
    summary = orjson.loads(first.stdout)
    assert summary["people"] == 30 and summary["events"]["usage"] > 0 and summary["events"]["outcomes"] > 0
    assert summary["first_day"] == "2026-11-28" and summary["last_day"] == "2026-11-30"
    labels = orjson.loads((data_dir / LABELS_FILE).read_bytes())["labels"]
    assert len(labels) == 30 + summary["agents"]

    second = run(data_dir, *args)
    assert second.returncode == 2
    assert "already has 30 people" in second.stderr and "--force" in second.stderr

    forced = run(data_dir, *args, "--force")
    assert forced.returncode == 0, forced.stderr
    assert orjson.loads(forced.stdout)["events"] == {"usage": 0, "outcomes": 0, "activities": 0}


def test_simulate_rejects_bad_sizes(data_dir: Path) -> None:
    result = run(data_dir, "simulate", "--people", "5", "--days", "3")
    assert result.returncode == 2 and "at least 20" in result.stderr


def test_demo_seeds_a_fresh_directory_serves_it_and_prints_working_credentials(data_dir: Path) -> None:
    port = free_port()
    demo_dir = data_dir / "demo"
    process = subprocess.Popen(
        [str(MESHCLAW), "demo", "--data-dir", str(demo_dir), "--people", "25", "--days", "2", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=data_dir,
        env={**environment(data_dir / "elsewhere"), "MESHCLAW_DATABASE_URL": "sqlite:///nowhere.db"},
    )  # fmt: skip
    try:
        assert process.stdout is not None and process.stderr is not None
        output = ""
        deadline = time.monotonic() + 180
        while "Sign in at" not in output and time.monotonic() < deadline and process.poll() is None:
            output += process.stdout.readline()
        match = re.search(r"Sign in at (\S+) as (\S+) with the password (\S+) ", output)
        assert match, output + (process.stderr.read() if process.poll() is not None else "")
        url, email, password = match.groups()
        assert url == f"http://127.0.0.1:{port}/login"
        wait_until_answers(
            f"http://127.0.0.1:{port}/healthz",
            within_s=max(0.0, deadline - time.monotonic()),
            what="the demo server",
            alive=lambda: process.poll() is None,
            pause_s=0.2,
        )
        # The demo wrote to its own directory (SQLite), not to MESHCLAW_DATA_DIR or MESHCLAW_DATABASE_URL.
        assert (demo_dir / LABELS_FILE).exists() and not (data_dir / "nowhere.db").exists()
        context = AppContext.from_settings(load_settings(data_dir=demo_dir, database_url=""))
        try:
            with context.db.session() as session:
                admin = session.scalars(select(User).where(User.email == email)).one()
                assert admin.role == "admin" and verify_password(admin.password_hash, password)
                assert len(session.scalars(select(User.id)).all()) == 26
        finally:
            context.db.dispose()
    finally:
        process.terminate()
        process.wait(timeout=30)
