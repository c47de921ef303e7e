"""`meshclaw budgets list|set|remove`, run in-process through the `meshclaw` Typer app (starting the
entry point costs seconds per call on a busy machine), on the database the API reads."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from meshclaw.cli.main import app
from meshclaw.identity.principal import Role
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


def run(data_dir: Path, database_url: str, *args: str) -> Done:
    # Settings read MESHCLAW_* from the environment: unset any the developer's shell carries.
    env: dict[str, str | None] = dict.fromkeys((k for k in os.environ if k.startswith("MESHCLAW_")), None)
    env.update({"MESHCLAW_DATA_DIR": str(data_dir), "MESHCLAW_DATABASE_URL": database_url, "COLUMNS": "200"})
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Done(result.exit_code, result.stdout, result.stderr)


@BOTH_BACKENDS
def test_set_list_and_remove(client: TestClient, people: People, tmp_path: Path, database_url: str) -> None:
    admin = people.add(Role.ADMIN)
    people.add(email="ada@example.org", team_id=people.team("Platform"))
    added = run(
        tmp_path, database_url, "budgets", "set", "--user", "ada@example.org", "--usd", "2.5", "--per", "day"
    )
    assert added.returncode == 0, added.stderr
    assert (
        added.stdout.strip() == "Added budget 1: user ada@example.org, hard budget of 2.50 USD per day (UTC)."
    )
    assert "within 10 seconds" in added.stderr
    changed = run(
        tmp_path, database_url, "budgets", "set", "--user", "ada@example.org", "--usd", "3", "--per", "day"
    )
    assert changed.stdout.startswith("Changed budget 1:")
    for args in (
        ("--team", "Platform", "--tokens", "1000000", "--per", "month", "--soft"),
        ("--agent", "7", "--requests", "60"),
        ("--team", "Platform", "--concurrent", "4"),
    ):
        done = run(tmp_path, database_url, "budgets", "set", *args)
        assert done.returncode == 0, done.stderr

    listed = run(tmp_path, database_url, "budgets", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    api = client.get("/api/v1/budgets", headers=admin.auth).json()
    assert orjson.loads(listed.stdout) == api
    assert len(api) == 4

    table = run(tmp_path, database_url, "budgets", "list").stdout
    assert "soft budget of 1,000,000 tokens per month (UTC)" in table
    assert "60 requests per minute" in table and "agent 7" in table

    removed = run(tmp_path, database_url, "budgets", "remove", "1")
    assert (removed.returncode, removed.stdout.strip()) == (0, "Removed budget 1.")
    again = run(tmp_path, database_url, "budgets", "remove", "1")
    assert again.returncode == 2
    assert "budget 1 does not exist" in again.stderr


def test_bad_input_says_what_to_fix(people: People, tmp_path: Path, database_url: str) -> None:
    people.add(email="ada@example.org")
    cases = {
        ("--user", "nobody@example.org", "--usd", "5", "--per", "day"): "no user 'nobody@example.org'",
        (
            "--user",
            "ada@example.org",
            "--usd",
            "5",
            "--per",
            "fortnight",
        ): "unknown period 'fortnight' for usd",
        ("--user", "ada@example.org", "--usd", "-5", "--per", "day"): "amount must be greater than 0",
        ("--user", "ada@example.org", "--usd", "5"): "unknown period None for usd",
        (
            "--user",
            "ada@example.org",
            "--team",
            "X",
            "--usd",
            "5",
            "--per",
            "day",
        ): "give exactly one of --user",
        ("--user", "ada@example.org", "--requests", "5", "--soft"): "always hard",
    }
    for args, words in cases.items():
        done = run(tmp_path, database_url, "budgets", "set", *args)
        assert done.returncode == 2, (args, done.stdout)
        assert words in done.stderr, (args, done.stderr)
