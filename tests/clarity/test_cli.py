"""`meshclaw clarity flags|adoption|leaderboard` through the installed entry point: the API's JSON, read
from the same database, and clean errors for bad ranges."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from tests.clarity.api_org import ApiOrg, build
from tests.clarity.conftest import WEEK
from tests.cli_runner import Done, run_cli
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS

SINCE, UNTIL = str(WEEK), str(WEEK + timedelta(days=7))


def run(data_dir: Path, database_url: str, *args: str) -> Done:
    return run_cli(data_dir, *args, database_url=database_url)


@pytest.fixture
def org(client: TestClient, context: AppContext, people: People) -> ApiOrg:
    return build(client, context, people)


@BOTH_BACKENDS
def test_json_is_the_apis(org: ApiOrg, tmp_path: Path, database_url: str) -> None:
    for command, path in (
        (("clarity", "flags"), "flags"),
        (("clarity", "adoption"), "adoption"),
        (("clarity", "leaderboard"), "leaderboard"),
    ):
        api = org.get(f"/api/v1/clarity/{path}?since={SINCE}&until={UNTIL}", org.admin)[1]
        done = run(tmp_path, database_url, *command, "--since", SINCE, "--until", UNTIL, "--json")
        assert done.returncode == 0, done.stderr
        assert orjson.loads(done.stdout) == api, command
    flags = orjson.loads(
        run(tmp_path, database_url, "clarity", "flags", "--since", SINCE, "--until", UNTIL, "--json").stdout
    )
    (flag,) = flags["flags"]
    assert {"subject", "kind", "score", "signals", "explanation"} <= set(flag)
    assert flag["subject"] == "grinder@example.org" and flag["kind"] == "person"


def test_tables_and_bad_ranges(org: ApiOrg, tmp_path: Path, database_url: str) -> None:
    table = run(tmp_path, database_url, "clarity", "flags", "--since", SINCE, "--until", UNTIL)
    assert table.returncode == 0, table.stderr
    assert "grinder@example.org" in table.stdout and "low_yield" in table.stdout
    board = run(tmp_path, database_url, "clarity", "leaderboard", "--since", SINCE, "--until", UNTIL)
    assert board.returncode == 0 and "Big" in board.stdout and "Small" not in board.stdout
    reversed_range = run(tmp_path, database_url, "clarity", "flags", "--since", UNTIL, "--until", SINCE)
    assert reversed_range.returncode == 2
    assert "since" in reversed_range.stderr and "Traceback" not in reversed_range.stderr
