"""`meshclaw audit verify|export|checkpoint` in-process, on a real database in the test's data dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meshclaw.audit.chain import AuditLog
from meshclaw.audit.record import AuditRecord
from meshclaw.config import load_settings
from meshclaw.context import AppContext
from meshclaw.db.migrate import upgrade
from tests.cli_runner import run_cli


@pytest.fixture
def filled(tmp_path: Path) -> AppContext:
    """Six records written the way the server writes them (key file created in the data dir)."""
    context = AppContext.from_settings(load_settings(data_dir=tmp_path))
    upgrade(context.db)
    log = AuditLog.for_data_dir(tmp_path)
    for n in range(6):
        with context.db.session() as session:
            log.append(
                session,
                AuditRecord(kind="tool.executed", tool="chat_post_message", arguments={"n": n}),
                now=context.clock.now(),
            )
    context.db.dispose()
    return context


def test_verify_passes_on_a_clean_log(tmp_path: Path, filled: AppContext) -> None:
    done = run_cli(tmp_path, "audit", "verify")
    assert done.returncode == 0, done.stderr
    assert "audit log OK: 6 records" in done.stdout


def test_verify_fails_with_exit_1_and_names_the_record(tmp_path: Path, filled: AppContext) -> None:
    with filled.db.engine.begin() as connection:
        from sqlalchemy import text

        connection.execute(text("UPDATE audit_events SET tool = 'email_send_message' WHERE seq = 4"))
    filled.db.dispose()
    done = run_cli(tmp_path, "audit", "verify")
    assert done.returncode == 1
    assert "FAILED at seq 4" in done.stdout and "edited" in done.stdout


def test_export_streams_jsonl_and_is_audited(tmp_path: Path, filled: AppContext) -> None:
    done = run_cli(tmp_path, "audit", "export", "--kind", "tool.executed")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert lines[0]["arguments"] == {"n": 0} and len(lines[0]["hash"]) == 64
    everything = run_cli(tmp_path, "audit", "export", "--kind", "admin.*")
    kinds = [json.loads(line)["kind"] for line in everything.stdout.splitlines()]
    assert kinds == ["admin.audit_exported", "admin.audit_exported"]
    assert run_cli(tmp_path, "audit", "verify").returncode == 0


def test_export_refuses_a_bad_date(tmp_path: Path, filled: AppContext) -> None:
    done = run_cli(tmp_path, "audit", "export", "--since", "yesterday")
    assert done.returncode == 2 and "ISO 8601" in done.stderr


def test_checkpoint_on_demand_makes_truncation_detectable(tmp_path: Path, filled: AppContext) -> None:
    assert "checkpoint at seq 6" in run_cli(tmp_path, "audit", "checkpoint").stdout
    with filled.db.engine.begin() as connection:
        from sqlalchemy import text

        connection.execute(text("DELETE FROM audit_events WHERE seq > 4"))
        connection.execute(text("DELETE FROM audit_checkpoints"))
    filled.db.dispose()
    done = run_cli(tmp_path, "audit", "verify")
    assert done.returncode == 1 and "truncated" in done.stdout


def test_keys_created_and_revoked_from_the_cli_are_audited(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "users", "add", "ops@example.org", "--role", "admin").returncode == 0
    created = run_cli(tmp_path, "keys", "create", "--user", "ops@example.org", "--name", "ci")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert run_cli(tmp_path, "keys", "revoke", secret.split("_")[1]).returncode == 0
    lines = [json.loads(line) for line in run_cli(tmp_path, "audit", "export").stdout.splitlines()]
    assert [(line["kind"], line["invoked_by"]) for line in lines[:3]] == [
        ("admin.user_added", "cli"),
        ("admin.key_created", "cli"),
        ("admin.key_revoked", "cli"),
    ]
    assert secret not in json.dumps(lines)


def test_up_refuses_a_malformed_key_before_serving(tmp_path: Path) -> None:
    from tests.conftest import free_port

    done = run_cli(tmp_path, "up", "--port", str(free_port()), env={"MESHCLAW_AUDIT_KEY": "not-a-key"})
    assert done.returncode == 2 and "MESHCLAW_AUDIT_KEY" in done.stderr
    assert "not-a-key" not in done.stderr
