"""The recorder: nothing recorded is lost (threads racing the writer, a killed process), nothing is
counted twice (replays), and each event carries its user's team at the time of the call."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from sqlalchemy import func, select

from meshclaw.context import AppContext
from meshclaw.db.models import OutcomeRollup, UsageEventRow, UsageRollup
from meshclaw.identity import store
from meshclaw.identity.principal import Role
from meshclaw.metering.events import OutcomeEvent, TokenBuckets, UsageEvent
from meshclaw.metering.prices import add_price
from meshclaw.metering.recorder import Recorder
from tests.postgres import BOTH_BACKENDS

ROOT = Path(__file__).resolve().parents[2]


def usage(user_id: int | None = None, *, at: datetime | None = None) -> UsageEvent:
    started = at or datetime.now(UTC)
    return UsageEvent(
        source="agent",
        started_at=started,
        ended_at=started + timedelta(milliseconds=5),
        model="m",
        tokens=TokenBuckets(input_uncached=10, output=2),
        user_id=user_id,
        initiator="automation",
    )


def count(context: AppContext) -> tuple[int, int]:
    with context.db.session() as session:
        events = session.scalar(select(func.count()).select_from(UsageEventRow)) or 0
        requests = (
            session.scalar(select(func.sum(UsageRollup.requests)).where(UsageRollup.bucket == "day")) or 0
        )
    return events, requests


@BOTH_BACKENDS
def test_threads_recording_while_the_writer_takes_batches_lose_nothing(
    context: AppContext, tmp_path: Path
) -> None:
    recorder = Recorder(context.db, journal_dir=tmp_path / "journal", flush_interval=0.001, max_batch=50)
    recorder.start()
    threads, per_thread = 8, 1500

    def work() -> None:
        for _ in range(per_thread):
            recorder.record_usage(usage())

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    recorder.flush(timeout=120)
    recorder.close()
    assert count(context) == (threads * per_thread, threads * per_thread)
    assert list((tmp_path / "journal").glob("*.jsonl")) == [], "committed batches leave no journal behind"


def test_team_is_stamped_as_it_was_when_the_call_was_recorded(
    context: AppContext, org_id: int, tmp_path: Path
) -> None:
    now = context.clock.now()
    with context.db.session() as session:
        red = store.create_team(session, org_id=org_id, name="Red", now=now)
        blue = store.create_team(session, org_id=org_id, name="Blue", now=now)
        ada = store.create_user(session, org_id=org_id, email="ada@example.org", role=Role.MEMBER, team_id=red.id,
                                now=now)  # fmt: skip
        ada_id, red_id, blue_id = ada.id, red.id, blue.id
    recorder = Recorder(context.db, journal_dir=tmp_path / "journal", team_refresh_s=0)
    recorder.start()
    recorder.record_usage(usage(ada_id))
    recorder.flush()
    with context.db.session() as session:
        store.get_user(session, org_id, ada_id).team_id = blue_id
    recorder.record_usage(usage(ada_id))
    recorder.close()
    with context.db.session() as session:
        teams = session.scalars(select(UsageEventRow.team_id).order_by(UsageEventRow.id)).all()
    assert teams == [red_id, blue_id]


def test_outcomes_are_recorded_through_the_same_path(context: AppContext, tmp_path: Path) -> None:
    recorder = Recorder(context.db, journal_dir=tmp_path / "journal")
    recorder.start()
    recorder.record_outcome(
        OutcomeEvent(
            type="draft.decided", occurred_at=datetime.now(UTC), source="agent", accepted=False, user_id=1
        )
    )
    recorder.close()
    with context.db.session() as session:
        rollup = session.scalars(select(OutcomeRollup).where(OutcomeRollup.bucket == "day")).one()
    assert (rollup.count, rollup.accepted, rollup.rejected) == (1, 0, 1)


def test_recording_before_start_is_a_programming_error(context: AppContext, tmp_path: Path) -> None:
    recorder = Recorder(context.db, journal_dir=tmp_path / "journal")
    try:
        recorder.record_usage(usage())
    except RuntimeError as error:
        assert "start()" in str(error)
    else:
        raise AssertionError("record_usage before start() must raise")


CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from meshclaw.db.engine import Database
    from meshclaw.metering.events import TokenBuckets, UsageEvent
    from meshclaw.metering.recorder import Recorder

    url, journal, total = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    # A writer that commits only every 10 minutes: everything recorded is still only in the journal.
    recorder = Recorder(Database(url), journal_dir=journal, flush_interval=600, max_batch=10**9)
    recorder.start()
    for index in range(total):
        now = datetime.now(UTC)
        recorder.record_usage(UsageEvent(source="gateway", started_at=now, ended_at=now + timedelta(seconds=1),
                                         model="m", tokens=TokenBuckets(output=index)))
    print("recorded", flush=True)
    time.sleep(600)
    """
)


@BOTH_BACKENDS
def test_events_recorded_before_a_kill_9_are_replayed_once_on_restart(
    context: AppContext, database_url: str, tmp_path: Path
) -> None:
    journal, total = tmp_path / "journal", 3000
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, context.settings.resolved_database_url, str(journal), str(total)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "recorded"
        # While the child lives, its segment is locked: another process must not replay it.
        assert Recorder(context.db, journal_dir=journal).replay() == 0
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert count(context) == (0, 0), "nothing was committed before the kill"
    with next(journal.glob("*.jsonl")).open("ab") as segment:
        segment.write(b'{"kind": "usage", "event": {"event_id": "torn')  # a write cut short by the kill
    restarted = Recorder(context.db, journal_dir=journal)
    restarted.start()
    restarted.close()
    assert count(context) == (total, total)
    with context.db.session() as session:
        assert session.scalar(select(func.sum(UsageEventRow.output))) == sum(range(total))
    assert list(journal.glob("*.jsonl")) == []
    # A second restart finds nothing left to replay.
    assert Recorder(context.db, journal_dir=journal).replay() == 0


def test_a_replay_of_events_already_committed_counts_them_once(context: AppContext, tmp_path: Path) -> None:
    # The process died after its batch committed but before it deleted the segment.
    journal = tmp_path / "journal"
    first = Recorder(context.db, journal_dir=journal)
    first.start()
    events = [usage() for _ in range(20)]
    for event in events:
        first.record_usage(event)
    first.close()
    (journal / "99999-00000001.jsonl").write_bytes(
        b"".join(orjson.dumps({"kind": "usage", "event": event}) + b"\n" for event in events)
    )
    again = Recorder(context.db, journal_dir=journal)
    assert again.replay() == 20  # read and handed to the writer ...
    assert count(context) == (20, 20)  # ... which stored none of them twice


def test_a_price_added_by_another_process_applies_without_a_restart(
    context: AppContext, tmp_path: Path
) -> None:
    recorder = Recorder(context.db, journal_dir=tmp_path / "journal", price_refresh_s=0)
    recorder.start()
    recorder.record_usage(usage())
    recorder.flush()
    with context.db.session() as session:  # as `meshclaw prices set` would, from its own process
        add_price(session, model="m", input_uncached=1.0, output=5.0, effective_from=datetime.now(UTC) - timedelta(hours=1),
                  created_by_user_id=None, now=datetime.now(UTC))  # fmt: skip
    recorder.record_usage(usage())
    recorder.close()
    with context.db.session() as session:
        costs = session.scalars(select(UsageEventRow.cost_microusd).order_by(UsageEventRow.id)).all()
    assert costs == [0, 10 * 1 + 2 * 5]
