"""`meshclaw doctor` names each enabled provider whose key variable is unset where it runs, with the fix,
and never prints a key. In-process (the same Typer app as the entry point): each start of it costs
seconds here."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from meshclaw.cli.main import app
from meshclaw.context import AppContext
from meshclaw.providers.registry import add_provider, set_enabled

SECRET = "sk-doctor-NEVER-PRINTED-5150"


def doctor(tmp_path: Path, database_url: str, **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app,
        ["doctor", "--skip-port"],
        env={
            "MESHCLAW_DATA_DIR": str(tmp_path),
            "MESHCLAW_DATABASE_URL": database_url,
            "COLUMNS": "400",
            **env,
        },
    )
    return result.exit_code, result.stdout


def test_doctor_reports_an_unset_provider_key_with_the_fix(
    context: AppContext, tmp_path: Path, database_url: str
) -> None:
    assert "none enabled" in doctor(tmp_path, database_url)[1]
    with context.db.session() as session:
        for name, env in (("openai", "MC_TEST_DOCTOR_KEY"), ("local", None)):
            add_provider(
                session,
                name=name,
                kind="openai",
                base_url="http://127.0.0.1:9/v1",
                api_key_env=env,
                models=[f"{name}-model"],
                now=context.clock.now(),
            )
    code, out = doctor(tmp_path, database_url, MC_TEST_DOCTOR_KEY="")
    assert code == 1
    line = next(line for line in out.splitlines() if "provider openai" in line)
    assert "MC_TEST_DOCTOR_KEY is not set in this environment" in line
    assert "meshclaw providers disable openai" in line
    assert "provider local" not in out  # needs no key

    code, out = doctor(tmp_path, database_url, MC_TEST_DOCTOR_KEY=SECRET)
    assert code == 0, out
    assert "2 enabled; every key variable is set here" in out
    assert SECRET not in out

    with context.db.session() as session:
        set_enabled(session, "openai", enabled=False)
    code, out = doctor(tmp_path, database_url, MC_TEST_DOCTOR_KEY="")
    assert code == 0, out  # a disabled provider is not called
