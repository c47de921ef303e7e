"""Events the database refused, set aside in `metering-journal/refused.jsonl`, are not lost there: the
operator lists them (`meshclaw usage refused`), stores them again once the cause is mended (`--retry`) or
drops those that are not usage (`--drop`, audited), and `meshclaw doctor` says while any wait."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlalchemy import func, select

from meshclaw.context import AppContext
from meshclaw.db.models import AuditEvent, UsageEventRow, UsageRollup
from meshclaw.metering.events import TokenBuckets, UsageEvent
from meshclaw.metering.journal_records import encode_usage
from meshclaw.metering.recorder import Recorder
from meshclaw.metering.refused import REFUSED_FILE, read_refused, set_aside
from tests.audit.admin_records import chain_verifies
from tests.cli_runner import Done, run_cli
from tests.postgres import BOTH_BACKENDS

NOW = datetime.now(UTC)


def usage(**fields: object) -> UsageEvent:
    return UsageEvent(source="otlp", started_at=NOW, ended_at=NOW, **fields)  # type: ignore[arg-type]


def stored(context: AppContext) -> tuple[int, int | None]:
    with context.db.session() as session:
        events = session.scalar(select(func.count()).select_from(UsageEventRow)) or 0
        requests = session.scalar(select(func.sum(UsageRollup.requests)).where(UsageRollup.bucket == "day"))
    return events, requests


@BOTH_BACKENDS
def test_set_aside_events_are_listed_retried_and_dropped(context: AppContext, database_url: str) -> None:
    journal = context.settings.metering_journal_dir
    data_dir = context.settings.data_dir

    def cli(*args: str) -> Done:
        return run_cli(data_dir, *args, database_url=database_url)

    recorder = Recorder(context.db, journal_dir=journal)
    recorder.start()
    try:
        never = usage(status=None)  # refused at every attempt (a NOT NULL column left empty)
        already = usage(tokens=TokenBuckets(input_uncached=5))
        recorder.record_usage(never)
        recorder.record_usage(already)
        recorder.flush(timeout=20)
    finally:
        recorder.close()
    # As a bug since mended would have left them: one event the database takes now, one stored meanwhile.
    mended = usage(tokens=TokenBuckets(input_uncached=7, output=3))
    set_aside(journal, encode_usage(mended), "DataError: value too long (before the upgrade)", at=NOW)
    set_aside(journal, encode_usage(already), "DataError: a retried batch", at=NOW)
    assert stored(context) == (1, 1)

    listed = orjson.loads(cli("usage", "refused", "--json").stdout)
    assert [item["event_id"] for item in listed] == [never.event_id, mended.event_id, already.event_id]
    assert {item["kind"] for item in listed} == {"usage"} and "status" in listed[0]["reason"]
    table = cli("usage", "refused").stdout
    assert "3 metering events set aside" in table and never.event_id in table
    doctor = cli("doctor", "--skip-port")
    assert doctor.returncode == 1 and "3 events the database refused are set aside" in doctor.stdout

    retried = cli("usage", "refused", "--retry", "--json")
    assert retried.returncode == 1  # one is still refused
    assert "stored 1, already stored 1, still refused 1" in retried.stderr
    assert [item["event_id"] for item in orjson.loads(retried.stdout)] == [never.event_id]
    assert stored(context) == (2, 2)  # the mended one with its rollups, the stored one not twice
    (left,) = read_refused(journal)
    assert left.event_id == never.event_id and "status" in left.reason and left.at is not None

    unknown = cli("usage", "refused", "--drop", "not-an-event")
    assert unknown.returncode == 2 and "not set aside: not-an-event" in unknown.stderr
    assert len(read_refused(journal)) == 1
    dropped = cli("usage", "refused", "--drop", never.event_id)
    assert dropped.returncode == 0, dropped.stderr
    assert not (journal / REFUSED_FILE).exists()
    assert "No metering events are set aside" in cli("usage", "refused").stdout
    assert cli("doctor", "--skip-port").returncode == 0
    with context.db.session() as session:
        record = session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "admin.metering_events_dropped")
        ).one()
        assert record.invoked_by == "cli" and never.event_id in (record.args_redacted or "")
    assert chain_verifies(context)


def test_an_unreadable_line_is_kept_and_shown(context: AppContext, database_url: str) -> None:
    """A line cut short by a crash while it was appended is neither dropped by a retry nor a crash."""
    journal = context.settings.metering_journal_dir
    good = usage(tokens=TokenBuckets(output=1))
    set_aside(journal, encode_usage(good), "DataError: then", at=NOW)
    with (journal / REFUSED_FILE).open("ab") as refused:
        refused.write(b'{"refused": "DataError: x", "event": ["u", "0190')
    retried = run_cli(context.settings.data_dir, "usage", "refused", "--retry", database_url=database_url)
    assert retried.returncode == 1 and "stored 1, already stored 0, still refused 1" in retried.stderr
    assert "unreadable" in retried.stdout
    (kept,) = read_refused(journal)
    assert kept.event is None and kept.line.startswith(b'{"refused": "DataError: x"')


def test_an_event_set_aside_during_a_retry_waits_for_it(context: AppContext, tmp_path: Path) -> None:
    """The writer of a running server appends while the operator's retry rewrites the file: the append
    waits for the rewrite, so it is neither lost (overwritten) nor lost track of."""
    journal = tmp_path / "journal"
    from meshclaw.metering import refused

    with refused._locked(journal):  # as a retry holds it
        writer = threading.Thread(
            target=set_aside,
            args=(journal, encode_usage(usage()), "DataError: meanwhile"),
            kwargs={"at": NOW},
        )
        writer.start()
        writer.join(timeout=0.5)
        assert writer.is_alive() and not (journal / REFUSED_FILE).exists()
    writer.join(timeout=10)
    assert [item.reason for item in read_refused(journal)] == ["DataError: meanwhile"]


def test_set_aside_events_survive_a_restart(context: AppContext) -> None:
    """The next start replays the crash journal's segments from the same directory; the file of set-aside
    events is not one of them (it was read as one, found no events it knew, and deleted)."""
    journal = context.settings.metering_journal_dir
    kept = usage(tokens=TokenBuckets(output=2))
    set_aside(journal, encode_usage(kept), "DataError: then", at=NOW)
    recorder = Recorder(context.db, journal_dir=journal)
    recorder.start()
    recorder.close()
    assert [item.event_id for item in read_refused(journal)] == [kept.event_id]
    assert stored(context) == (0, None)
