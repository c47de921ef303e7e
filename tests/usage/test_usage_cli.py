"""`meshclaw usage` and `meshclaw prices` through the installed entry point, on the database the API
reads (SQLite, and PostgreSQL for the JSON that must equal the API's)."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.cli_runner import Done, run_cli
from tests.postgres import BOTH_BACKENDS
from tests.usage.conftest import Org


def run(data_dir: Path, database_url: str, *args: str) -> Done:
    return run_cli(data_dir, *args, database_url=database_url)


@BOTH_BACKENDS
def test_usage_json_is_the_api_summary(recorded: Org, tmp_path: Path, database_url: str) -> None:
    query = "group_by=model&since=2026-11-21&source=gateway"
    api = recorded.client.get(f"/api/v1/usage/summary?{query}", headers=recorded.admin.auth).json()
    done = run(
        tmp_path,
        database_url,
        "usage",
        "--json",
        "--group-by",
        "model",
        "--since",
        "2026-11-21",
        "--source",
        "gateway",
    )
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout) == api
    assert api["totals"]["requests"] == 2  # the failed gpt-4o call and the report's claude call


def test_usage_table_and_user_filter(recorded: Org, tmp_path: Path, database_url: str) -> None:
    done = run(tmp_path, database_url, "usage", "--user", "member@example.org", "--group-by", "source")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Usage by source" in out
    gateway = next(line for line in out.splitlines() if "gateway" in line)
    # 3 requests, 1 error, 3010 input, 4000 cached, 600 output: $0.0185
    assert [cell.strip() for cell in gateway.split("│")[1:5]] == ["gateway", "3", "1", "3,010"]
    assert "$0.0185" in gateway and "$0.0237" in out
    assert "$0.0422" in next(line for line in out.splitlines() if line.strip("│ ").startswith("total"))
    # Someone unknown is an error that names them, with exit code 2.
    missing = run(tmp_path, database_url, "usage", "--user", "ghost@example.org")
    assert missing.returncode == 2
    assert "ghost@example.org" in missing.stderr
    bad = run(tmp_path, database_url, "usage", "--group-by", "colour")
    assert bad.returncode == 2
    assert "--group-by must be one of user, team, agent, model, client, source" in bad.stderr


def test_prices_set_and_list(org: Org, tmp_path: Path, database_url: str) -> None:
    done = run(
        tmp_path, database_url, "prices", "set", "o3", "--input", "2", "--output", "8", "--cache-read", "0.5",
        "--from", "2026-06-01",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Added price" in done.stdout and "o3" in done.stdout
    listed = run(tmp_path, database_url, "prices", "list", "--json", "--model", "o3")
    assert listed.returncode == 0, listed.stderr
    rows = orjson.loads(listed.stdout)
    assert rows == org.client.get("/api/v1/prices?model=o3", headers=org.member.auth).json()
    assert [(r["input_uncached"], r["cache_read"], r["cache_write"], r["reasoning"]) for r in rows] == [
        (2.0, 0.5, 2.0, 8.0)
    ]
    table = run(tmp_path, database_url, "prices", "list")
    assert "gpt-4o" in table.stdout and "o3" in table.stdout
    refused = run(tmp_path, database_url, "prices", "set", "o3", "--input", "-1", "--output", "8")
    assert refused.returncode == 2
    assert "--input" in refused.stderr
    bad_date = run(
        tmp_path, database_url, "prices", "set", "o3", "--input", "1", "--output", "8", "--from", "June"
    )
    assert bad_date.returncode == 2
    assert "ISO 8601" in bad_date.stderr
