"""The limiter against a real database: spend survives a restart (from the rollups and, for API keys,
the usage events), budgets changed elsewhere apply after a reload, soft alerts are stored once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from meshclaw.clock import FrozenClock
from meshclaw.context import AppContext
from meshclaw.db.models import ApiKey, BudgetAlert
from meshclaw.limits import store
from meshclaw.limits.admission import Limiter, LimitExceeded, Subject
from meshclaw.limits.alerts import SoftAlert
from meshclaw.limits.status import budget_status
from meshclaw.metering.events import TokenBuckets, UsageEvent
from meshclaw.metering.recorder import Recorder
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)  # a Wednesday


def record(context: AppContext, tmp_path: Path, *events: UsageEvent) -> None:
    recorder = Recorder(context.db, journal_dir=tmp_path / "journal")
    recorder.start()
    for event in events:
        recorder.record_usage(event)
    recorder.close()


def call(at: datetime, *, cost_usd: float, tokens: int = 0, **who: int) -> UsageEvent:
    return UsageEvent(
        source="gateway",
        started_at=at,
        ended_at=at + timedelta(seconds=1),
        model="m",
        tokens=TokenBuckets(input_uncached=tokens),
        cost_usd=cost_usd,
        **who,  # type: ignore[arg-type]
    )


def set_budget(
    context: AppContext,
    subject_type: str,
    ref: str | int,
    unit: str,
    period: str | None,
    amount: int,
    *,
    enforcement: str = "hard",
) -> int:
    with context.db.session() as session:
        subject = store.resolve_subject(session, subject_type, ref)
        budget, _ = store.set_budget(
            session,
            subject=subject,
            unit=unit,
            period=period,
            enforcement=enforcement,
            amount=amount,
            created_by_user_id=None,
            now=NOW,
        )
        return budget.id


def started(context: AppContext, **kwargs: object) -> Limiter:
    limiter = Limiter(context.db, clock=FrozenClock(NOW), **kwargs)  # type: ignore[arg-type]
    limiter.start()
    return limiter


@BOTH_BACKENDS
def test_a_restart_reloads_this_periods_spend_from_the_rollups(
    context: AppContext, people: People, tmp_path: Path
) -> None:
    team = people.team("Platform")
    ada = people.add(team_id=team, email="ada@example.org")
    set_budget(context, "user", "ada@example.org", "usd", "day", 1_000_000)
    set_budget(context, "team", "Platform", "tokens", "week", 10_000)
    set_budget(context, "agent", 7, "usd", "month", 3_000_000)
    record(
        context,
        tmp_path,
        call(NOW - timedelta(hours=1), cost_usd=0.6, tokens=4_000, user_id=ada.id),
        call(NOW - timedelta(days=1), cost_usd=5.0, tokens=5_000, user_id=ada.id),  # yesterday, same week
        call(NOW - timedelta(days=3), cost_usd=5.0, tokens=5_000, user_id=ada.id),  # last week
        call(NOW - timedelta(days=1), cost_usd=2.5, agent_id=7),
        call(NOW - timedelta(days=2), cost_usd=9.0, agent_id=7, user_id=ada.id),  # 30 Nov: last month
    )
    # What Clarity and the pages show: spend against the limit in the current period, from the rollups.
    with context.db.session() as session:
        status = {(s.subject.scope, s.unit, s.period): s for s in budget_status(session, now=NOW)}
    ada_day = status[("user ada@example.org", "usd", "day")]
    assert (ada_day.spent, ada_day.amount, ada_day.reached) == (600_000, 1_000_000, False)
    assert (ada_day.period_start, ada_day.resets_at) == (
        datetime(2026, 12, 2, tzinfo=UTC),
        datetime(2026, 12, 3, tzinfo=UTC),
    )
    assert status[("team Platform", "tokens", "week")].spent == 9_000
    assert status[("agent 7", "usd", "month")].spent == 2_500_000

    limiter = started(context)
    try:
        me = Subject(user_id=ada.id, team_id=team)
        with pytest.raises(LimitExceeded) as refused:
            limiter.admit(me, reserve_tokens=0, reserve_cost_microusd=400_001, now=NOW)
        assert refused.value.scope == "user ada@example.org"
        limiter.admit(me, reserve_tokens=0, reserve_cost_microusd=400_000, now=NOW)
        with pytest.raises(LimitExceeded) as refused:
            limiter.admit(Subject(team_id=team), reserve_tokens=1_001, reserve_cost_microusd=0, now=NOW)
        assert refused.value.scope == "team Platform"
        limiter.admit(Subject(team_id=team), reserve_tokens=1_000, reserve_cost_microusd=0, now=NOW)
        with pytest.raises(LimitExceeded):
            limiter.admit(Subject(agent_id=7), reserve_tokens=0, reserve_cost_microusd=500_001, now=NOW)
    finally:
        limiter.close()


@BOTH_BACKENDS
def test_api_key_spend_is_reloaded_from_the_usage_events(
    context: AppContext, people: People, tmp_path: Path
) -> None:
    ada = people.add(email="ada@example.org")
    with context.db.session() as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.owner_user_id == ada.id))
    assert key_id is not None
    set_budget(context, "api_key", key_id, "usd", "day", 1_000_000)
    record(
        context,
        tmp_path,
        call(NOW - timedelta(hours=2), cost_usd=0.9, user_id=ada.id, api_key_id=key_id),
        call(NOW - timedelta(hours=2), cost_usd=5.0, user_id=ada.id),  # another way of calling: not the key's
    )
    limiter = started(context)
    try:
        with pytest.raises(LimitExceeded) as refused:
            limiter.admit(
                Subject(api_key_id=key_id), reserve_tokens=0, reserve_cost_microusd=100_001, now=NOW
            )
        assert refused.value.scope == "API key 'test'"
        limiter.admit(Subject(api_key_id=key_id), reserve_tokens=0, reserve_cost_microusd=100_000, now=NOW)
    finally:
        limiter.close()


@BOTH_BACKENDS
def test_a_budget_set_elsewhere_applies_on_reload_and_by_the_periodic_refresh(
    context: AppContext, people: People
) -> None:
    ada = people.add(email="ada@example.org")
    me = Subject(user_id=ada.id)
    limiter = started(context, refresh_s=0.05)
    try:
        limiter.admit(me, reserve_tokens=0, reserve_cost_microusd=10**9, now=NOW)
        budget_id = set_budget(context, "user", ada.id, "requests", "minute", 1)  # as the CLI would
        deadline = time.monotonic() + 10
        while True:
            try:
                limiter.admit(me, reserve_tokens=0, reserve_cost_microusd=0, now=NOW)
            except LimitExceeded:
                break
            assert time.monotonic() < deadline, "the periodic refresh never applied the new budget"
            time.sleep(0.02)
        with context.db.session() as session:
            store.delete_budget(session, budget_id)
        limiter.reload()  # as the API does after a change
        limiter.admit(me, reserve_tokens=0, reserve_cost_microusd=0, now=NOW)
    finally:
        limiter.close()


class Collect:
    def __init__(self) -> None:
        self.alerts: list[SoftAlert] = []

    def deliver(self, alert: SoftAlert) -> None:
        self.alerts.append(alert)


def alert_rows(context: AppContext) -> int:
    with context.db.session() as session:
        return session.scalar(select(func.count()).select_from(BudgetAlert)) or 0


@BOTH_BACKENDS
def test_a_soft_budget_alert_is_stored_and_delivered_once_per_period(
    context: AppContext, people: People, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ada = people.add(email="ada@example.org")
    set_budget(context, "user", ada.id, "usd", "month", 1_000_000, enforcement="soft")
    me = Subject(user_id=ada.id)
    sink = Collect()
    limiter = started(context, alert_sinks=[sink])
    try:
        for _ in range(3):
            limiter.admit(me, reserve_tokens=0, reserve_cost_microusd=0, now=NOW).settle(
                tokens=0, cost_microusd=600_000, now=NOW
            )
    finally:
        limiter.close()
    assert alert_rows(context) == 1
    assert [(a.rule.scope, a.spent) for a in sink.alerts] == [("user ada@example.org", 1_200_000)]

    # After a restart the spend is past the soft budget again, but the period already has its alert.
    record(context, tmp_path, call(NOW, cost_usd=1.8, user_id=ada.id))
    again = Collect()
    limiter = started(context, alert_sinks=[again])
    limiter.close()
    assert alert_rows(context) == 1
    assert again.alerts == []


@BOTH_BACKENDS
def test_the_default_sink_logs_the_alert_without_secrets(
    context: AppContext, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    ada = people.add(email="ada@example.org")
    set_budget(context, "user", ada.id, "tokens", "day", 100, enforcement="soft")
    limiter = started(context)
    with caplog.at_level("WARNING", logger="meshclaw.limits"):
        limiter.admit(Subject(user_id=ada.id), reserve_tokens=0, reserve_cost_microusd=0, now=NOW).settle(
            tokens=150, cost_microusd=0, now=NOW
        )
        limiter.close()
    messages = [r.getMessage() for r in caplog.records if r.name == "meshclaw.limits"]
    assert messages == [
        "user ada@example.org: soft budget of 100 tokens per day (UTC) crossed (spent 150 tokens in the period from 2026-12-02)"
    ]
    assert ada.key not in messages[0]
