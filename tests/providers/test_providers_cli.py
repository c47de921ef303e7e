"""`meshclaw providers …`: through the installed entry point on the database the API reads (SQLite and
PostgreSQL), the JSON equals the API's; the other commands and the errors (what to fix, exit code 2)
through the same Typer app in-process, because each start of the entry point costs seconds here. No key
value is ever printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from meshclaw.cli.main import app
from meshclaw.identity.principal import Role
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS

MESHCLAW = Path(sys.executable).with_name("meshclaw")
SECRET = "sk-cli-NEVER-PRINTED-777"


def run(
    data_dir: Path, database_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MESHCLAW_")}
    full_env = {
        **clean,
        "MESHCLAW_DATA_DIR": str(data_dir),
        "MESHCLAW_DATABASE_URL": database_url,
        "COLUMNS": "200",
        **(env or {}),
    }
    return subprocess.run(
        [str(MESHCLAW), *args],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=data_dir,
        env=full_env,
        check=False,
    )


@BOTH_BACKENDS
def test_add_through_the_entry_point_and_list_the_api_json(
    client: TestClient, people: People, tmp_path: Path, database_url: str
) -> None:
    added = run(
        tmp_path, database_url, "providers", "add", "openai", "--kind", "openai",
        "--base-url", "https://api.openai.com/v1/", "--api-key-env", "MC_TEST_OPENAI_KEY",
        "--models", "gpt-4o, gpt-4o-mini",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "Added provider openai" in added.stdout and "gpt-4o-mini" in added.stdout
    assert "MC_TEST_OPENAI_KEY is not set in this shell" in added.stderr
    assert "within 10 seconds" in added.stderr

    listed = run(tmp_path, database_url, "providers", "list", "--json", env={"MC_TEST_OPENAI_KEY": SECRET})
    assert listed.returncode == 0, listed.stderr
    admin = people.add(Role.ADMIN)
    api = client.get("/api/v1/providers", headers=admin.auth).json()
    from_cli = orjson.loads(listed.stdout)
    assert from_cli[0]["api_key_set"] is True and api[0]["api_key_set"] is False
    # The API's JSON, except where the two processes' environments differ.
    assert [{**p, "api_key_set": None} for p in from_cli] == [{**p, "api_key_set": None} for p in api]
    assert SECRET not in listed.stdout + listed.stderr
    # An error through the real entry point: the message on stderr, exit code 2.
    missing = run(tmp_path, database_url, "providers", "remove", "nope")
    assert missing.returncode == 2
    assert "no provider named 'nope'; 'meshclaw providers list' shows them" in missing.stderr


def invoke(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    full_env = {
        "MESHCLAW_DATA_DIR": str(tmp_path),
        "MESHCLAW_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "COLUMNS": "200",
        **(env or {}),
    }
    result = runner.invoke(app, list(args), env=full_env)
    return result.exit_code, result.stdout, result.stderr


def test_table_disable_enable_remove(tmp_path: Path) -> None:
    code, _, err = invoke(
        tmp_path, "providers", "add", "local", "--kind", "openai-compatible",
        "--base-url", "http://127.0.0.1:11434/v1", "--api-key-env", "MC_TEST_LOCAL_KEY", "--models", "qwen",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = invoke(tmp_path, "providers", "list", env={"MC_TEST_LOCAL_KEY": SECRET})
    assert code == 0, err
    row = next(line for line in out.splitlines() if "local" in line and "│" in line)
    assert [cell.strip() for cell in row.split("│")[1:-1]] == [
        "local", "openai-compatible", "http://127.0.0.1:11434/v1", "MC_TEST_LOCAL_KEY", "yes", "qwen", "yes",
    ]  # fmt: skip
    assert SECRET not in out + err
    code, out, err = invoke(tmp_path, "providers", "list", env={"MC_TEST_LOCAL_KEY": ""})
    assert "│ NO " in out  # an empty variable is no key
    code, out, err = invoke(tmp_path, "providers", "disable", "local")
    assert (code, out.strip()) == (0, "Provider local is disabled.")
    assert "within 10 seconds" in err
    assert "│ no " in invoke(tmp_path, "providers", "list")[1]
    code, out, _ = invoke(tmp_path, "providers", "enable", "local")
    assert (code, out.strip()) == (0, "Provider local is enabled.")
    code, out, _ = invoke(tmp_path, "providers", "remove", "local")
    assert (code, out.strip()) == (0, "Removed provider local.")
    assert "No providers yet" in invoke(tmp_path, "providers", "list")[1]


def test_bad_input_says_what_to_fix_and_exits_2(tmp_path: Path) -> None:
    base = ["providers", "add", "p", "--base-url", "http://127.0.0.1:9/v1", "--models", "m"]
    code, _, err = invoke(tmp_path, *base, "--kind", "gemini")
    assert code == 2
    assert "unknown provider kind 'gemini'; use one of: openai, anthropic, openai-compatible" in err
    code, out, err = invoke(tmp_path, *base, "--kind", "openai", "--api-key-env", SECRET)
    assert code == 2
    assert "never the key itself" in err
    assert SECRET not in out + err
    code, _, err = invoke(tmp_path, *base[:4], "ftp://h", "--models", "m", "--kind", "openai")
    assert code == 2 and "absolute http:// or https:// URL" in err
    assert invoke(tmp_path, *base, "--kind", "openai")[0] == 0
    code, _, err = invoke(tmp_path, *base[:2], "q", *base[3:], "--kind", "anthropic")
    assert code == 2
    assert "model 'm' is already served by provider 'p'" in err
    code, _, err = invoke(tmp_path, "providers", "enable", "nope")
    assert code == 2 and "no provider named 'nope'" in err
