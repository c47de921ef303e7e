"""The chain verifies when untouched and names the first bad record for each kind of tampering."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from meshclaw.audit.canonical import digest
from meshclaw.audit.chain import AuditLog
from meshclaw.audit.record import AuditRecord
from meshclaw.audit.verify import Verification, verify
from meshclaw.context import AppContext
from tests.audit.conftest import append_many
from tests.postgres import BOTH_BACKENDS


def check(context: AppContext, audit: AuditLog, *, key: bytes | None = None) -> Verification:
    with context.db.session() as session:
        return verify(session, key=key or audit.key, checkpoint_file=audit.checkpoint_file)


def sql(context: AppContext, statement: str) -> None:
    with context.db.engine.begin() as connection:
        connection.execute(text(statement))


@BOTH_BACKENDS
def test_a_clean_chain_verifies(context: AppContext, audit: AuditLog) -> None:
    append_many(context, audit, 12)
    result = check(context, audit)
    assert result.ok, result.problem
    assert (result.records, result.last_seq, result.checkpoints) == (12, 12, 2)


@BOTH_BACKENDS
def test_a_batch_appended_at_once_chains_like_single_appends(context: AppContext, audit: AuditLog) -> None:
    """`append_many` (a run's batch of tool calls) chains each record on the one before, in order, with
    the checkpoints that fall inside a batch (every 5th record here), so the log verifies as if each had
    been appended alone."""
    append_many(context, audit, 2)
    start = context.clock.now()
    for batch in range(3):
        records = [
            (AuditRecord(kind="tool.executed", actor_agent_id=7, on_behalf_of_user_id=3, invoked_by="trigger:1",
                         tool="kv_get_value", effect_class="read_private", arguments={"key": f"k{batch}-{n}"},
                         decision="allow", outcome="ok", run_id="run-batch"),
             start + timedelta(seconds=batch, milliseconds=n))
            for n in range(4)
        ]  # fmt: skip
        with context.db.session() as session:
            rows = audit.append_many(session, records)
        assert [row.seq for row in rows] == [3 + 4 * batch + n for n in range(4)]
    result = check(context, audit)
    assert result.ok, result.problem
    assert (result.records, result.last_seq, result.checkpoints) == (14, 14, 2)
    assert audit.checkpoint_file is not None
    assert len(audit.checkpoint_file.read_text().splitlines()) == 2


def test_an_empty_log_verifies(context: AppContext, audit: AuditLog) -> None:
    assert check(context, audit).ok


@BOTH_BACKENDS
def test_an_edited_record_is_detected(context: AppContext, audit: AuditLog) -> None:
    append_many(context, audit, 8)
    sql(context, "UPDATE audit_events SET outcome = 'error' WHERE seq = 7")
    result = check(context, audit)
    assert not result.ok
    assert result.first_bad_seq == 7
    assert "edited" in (result.problem or "")


def test_a_deleted_record_is_detected(context: AppContext, audit: AuditLog) -> None:
    append_many(context, audit, 8)
    sql(context, "DELETE FROM audit_events WHERE seq = 6")
    result = check(context, audit)
    assert (result.ok, result.first_bad_seq) == (False, 6)
    assert "missing" in (result.problem or "")


def test_a_deleted_and_renumbered_record_is_detected(context: AppContext, audit: AuditLog) -> None:
    append_many(context, audit, 8)
    sql(context, "DELETE FROM audit_events WHERE seq = 6")
    sql(context, "UPDATE audit_events SET seq = seq - 1 WHERE seq > 6")
    result = check(context, audit)
    assert (result.ok, result.first_bad_seq) == (False, 6)


@BOTH_BACKENDS
def test_swapped_records_are_detected(context: AppContext, audit: AuditLog) -> None:
    append_many(context, audit, 8)
    columns = "kind, tool, args_redacted, args_digest, external_ids, run_id, prev_hash, hash"
    sql(context, f"CREATE TABLE swap AS SELECT seq, {columns} FROM audit_events WHERE seq IN (3, 4)")  # noqa: S608
    for column in columns.split(", "):
        sql(
            context,
            f"UPDATE audit_events SET {column} = (SELECT s.{column} FROM swap s "  # noqa: S608
            "WHERE s.seq = 7 - audit_events.seq) WHERE seq IN (3, 4)",
        )
    result = check(context, audit)
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "swapped" in (result.problem or "")


def test_a_truncated_tail_is_detected_by_the_checkpoint_file(context: AppContext, audit: AuditLog) -> None:
    append_many(context, audit, 12)  # checkpoints at 5 and 10, in the table and the file
    sql(context, "DELETE FROM audit_events WHERE seq >= 8")
    sql(context, "DELETE FROM audit_checkpoints WHERE seq >= 8")
    result = check(context, audit)
    assert (result.ok, result.first_bad_seq) == (False, 8)
    assert "truncated" in (result.problem or "")
    assert audit.checkpoint_file is not None and "file" in (result.problem or "")


def test_a_truncated_tail_is_detected_by_the_checkpoint_table(context: AppContext, audit: AuditLog) -> None:
    append_many(context, audit, 12)
    sql(context, "DELETE FROM audit_events WHERE seq >= 9")
    result = check(context, audit)
    assert (result.ok, result.first_bad_seq) == (False, 9)


def test_the_wrong_key_fails(context: AppContext, audit: AuditLog) -> None:
    append_many(context, audit, 3)
    assert not check(context, audit, key=b"k" * 32).ok
    with context.db.session() as session:
        result = verify(session, key=b"k" * 32, checkpoint_file=None)
    assert (result.ok, result.first_bad_seq) == (False, 1)
    assert "key differs" in (result.problem or "")


def test_a_forged_checkpoint_fails(context: AppContext, audit: AuditLog) -> None:
    append_many(context, audit, 6)
    sql(context, "UPDATE audit_checkpoints SET hash = '" + "a" * 64 + "' WHERE seq = 5")
    result = check(context, audit)
    assert (result.ok, result.first_bad_seq) == (False, 5)


@BOTH_BACKENDS
def test_concurrent_appends_keep_a_gapless_chain(context: AppContext, audit: AuditLog) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(8):
                with context.db.session() as session:
                    audit.append(
                        session,
                        AuditRecord(kind="admin.key_created", target=f"api_key:{n * 100 + i}"),
                        now=context.clock.now(),
                    )
        except BaseException as exc:  # surfaced below: a thread's exception would vanish otherwise
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = check(context, audit)
    assert result.ok, result.problem
    assert result.last_seq == 32


def test_a_rolled_back_append_leaves_no_checkpoint_in_the_file(context: AppContext, audit: AuditLog) -> None:
    append_many(context, audit, 4)
    try:
        with context.db.session() as session:
            audit.append(session, AuditRecord(kind="admin.key_revoked"), now=context.clock.now())
            raise RuntimeError("the admin action failed")
    except RuntimeError:
        pass
    assert audit.checkpoint_file is not None and not Path(audit.checkpoint_file).exists()
    append_many(context, audit, 1)
    assert check(context, audit).ok


def test_secrets_never_reach_the_stored_arguments(context: AppContext, audit: AuditLog) -> None:
    arguments = {
        "to": "ceo@example.org",
        "smtp_password": "correct horse battery staple",
        "headers": {"Authorization": "Bearer abcdefghijklmnopqrstuvwx"},
        "body": "use sk-proj1234567890abcdef and xoxb-1234567890-abcdefghij, and vault-value-8731",
        "max_tokens": 500,
    }
    with context.db.session() as session:
        row = audit.append(
            session,
            AuditRecord(
                kind="tool.executed",
                tool="email_send_message",
                arguments=arguments,
                secret_values=["vault-value-8731"],
            ),
            now=context.clock.now(),
        )
        stored = row.args_redacted or ""
        assert row.args_digest == digest(arguments)
    for secret in (
        "correct horse",
        "abcdefghijklmnopqrstuvwx",
        "sk-proj1234567890abcdef",
        "xoxb-1234567890",
        "vault-value-8731",
    ):
        assert secret not in stored
    assert "ceo@example.org" in stored and '"max_tokens":500' in stored
