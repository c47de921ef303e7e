"""Admission against hard budgets, rate windows and concurrency, with an injected clock and no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meshclaw.limits.admission import Limiter, LimitExceeded, Snapshot, Subject
from tests.limits.rules import limiter_with, rule

T0 = datetime(2026, 12, 2, 23, 59, 0, tzinfo=UTC)
ADA = Subject(user_id=1, team_id=10, api_key_id=100)


def test_no_limits_admits_everything() -> None:
    ticket = Limiter().admit(ADA, reserve_tokens=10**9, reserve_cost_microusd=10**12, now=T0)
    ticket.settle(tokens=1, cost_microusd=1, now=T0)
    with pytest.raises(RuntimeError):
        ticket.settle(tokens=1, cost_microusd=1, now=T0)


def test_hard_usd_budget_refuses_the_call_that_would_pass_it_and_says_when_it_resets() -> None:
    limiter = limiter_with(rule("usd", "day", 5_000_000), now=T0)  # 5 USD per day
    for _ in range(5):
        limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=1_000_000, now=T0).settle(
            tokens=10, cost_microusd=1_000_000, now=T0
        )
    with pytest.raises(LimitExceeded) as refused:
        limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=1, now=T0)
    assert refused.value.limit == "hard budget of 5.00 USD per day (UTC)"
    assert refused.value.scope == "user 1"
    assert refused.value.reset_at == datetime(2026, 12, 3, tzinfo=UTC)
    assert refused.value.retry_after_s == 60
    assert "resets at 2026-12-03T00:00:00Z" in str(refused.value)
    assert refused.value.unit == "usd" and not refused.value.rate_limit


def test_the_budget_resets_at_the_utc_period_boundary() -> None:
    limiter = limiter_with(rule("usd", "day", 1_000), now=T0)
    limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=1_000, now=T0).settle(
        tokens=0, cost_microusd=1_000, now=T0
    )
    with pytest.raises(LimitExceeded):
        limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=0, now=T0 + timedelta(seconds=59))
    limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=1_000, now=T0 + timedelta(seconds=60))


def test_weekly_and_monthly_budgets_reset_on_monday_and_the_first() -> None:
    sunday = datetime(2026, 12, 6, 12, tzinfo=UTC)
    limiter = limiter_with(
        rule("tokens", "week", 100), rule("tokens", "month", 1_000, subject_id=2), now=sunday
    )
    weekly, monthly = Subject(user_id=1), Subject(user_id=2)
    limiter.admit(weekly, reserve_tokens=100, reserve_cost_microusd=0, now=sunday).settle(
        tokens=100, cost_microusd=0, now=sunday
    )
    with pytest.raises(LimitExceeded) as refused:
        limiter.admit(weekly, reserve_tokens=1, reserve_cost_microusd=0, now=sunday)
    assert refused.value.reset_at == datetime(2026, 12, 7, tzinfo=UTC)
    limiter.admit(weekly, reserve_tokens=100, reserve_cost_microusd=0, now=datetime(2026, 12, 7, tzinfo=UTC))

    last_day = datetime(2026, 12, 31, 23, tzinfo=UTC)
    limiter.admit(monthly, reserve_tokens=1_000, reserve_cost_microusd=0, now=last_day).settle(
        tokens=1_000, cost_microusd=0, now=last_day
    )
    with pytest.raises(LimitExceeded) as refused:
        limiter.admit(monthly, reserve_tokens=1, reserve_cost_microusd=0, now=last_day)
    assert refused.value.reset_at == datetime(2027, 1, 1, tzinfo=UTC)
    limiter.admit(
        monthly, reserve_tokens=1_000, reserve_cost_microusd=0, now=datetime(2027, 1, 1, tzinfo=UTC)
    )


def test_hard_token_budget_counts_reservations_of_calls_in_flight() -> None:
    limiter = limiter_with(rule("tokens", "day", 1_000), now=T0)
    limiter.admit(ADA, reserve_tokens=600, reserve_cost_microusd=0, now=T0)  # not settled yet
    with pytest.raises(LimitExceeded):
        limiter.admit(ADA, reserve_tokens=500, reserve_cost_microusd=0, now=T0)
    limiter.admit(ADA, reserve_tokens=400, reserve_cost_microusd=0, now=T0)


def test_settle_replaces_the_reservation_with_the_real_amount() -> None:
    limiter = limiter_with(rule("tokens", "day", 1_000), now=T0)
    ticket = limiter.admit(ADA, reserve_tokens=1_000, reserve_cost_microusd=0, now=T0)
    with pytest.raises(LimitExceeded):
        limiter.admit(ADA, reserve_tokens=1, reserve_cost_microusd=0, now=T0)
    ticket.settle(tokens=300, cost_microusd=0, now=T0)
    limiter.admit(ADA, reserve_tokens=700, reserve_cost_microusd=0, now=T0)
    with pytest.raises(LimitExceeded):
        limiter.admit(ADA, reserve_tokens=1, reserve_cost_microusd=0, now=T0)


def test_a_failed_call_settled_with_zero_gives_its_reservation_back() -> None:
    limiter = limiter_with(rule("usd", "month", 100), now=T0)
    limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=100, now=T0).settle(
        tokens=0, cost_microusd=0, now=T0
    )
    limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=100, now=T0)


def test_a_refusal_by_one_limit_reserves_nothing_in_the_others() -> None:
    limiter = limiter_with(
        rule("usd", "day", 1_000, subject_type="user", subject_id=1),
        rule("usd", "day", 10, subject_type="team", subject_id=10),
        now=T0,
    )
    with pytest.raises(LimitExceeded) as refused:
        limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=500, now=T0)
    assert refused.value.scope == "team 10"
    # The user's 1,000 are untouched: a call outside the team fits it whole.
    limiter.admit(Subject(user_id=1), reserve_tokens=0, reserve_cost_microusd=1_000, now=T0)


def test_each_subject_of_a_call_is_charged() -> None:
    limiter = limiter_with(
        rule("requests", "minute", 2, subject_type="api_key", subject_id=100),
        rule("requests", "minute", 3, subject_type="agent", subject_id=7),
        now=T0,
    )
    limiter.admit(Subject(api_key_id=100), reserve_tokens=0, reserve_cost_microusd=0, now=T0)
    limiter.admit(Subject(api_key_id=100, agent_id=7), reserve_tokens=0, reserve_cost_microusd=0, now=T0)
    with pytest.raises(LimitExceeded) as refused:
        limiter.admit(Subject(api_key_id=100), reserve_tokens=0, reserve_cost_microusd=0, now=T0)
    assert refused.value.scope == "api key 100"
    # The agent's 3: one call with the key, two alone; the refused call charged nobody.
    limiter.admit(Subject(agent_id=7), reserve_tokens=0, reserve_cost_microusd=0, now=T0)
    limiter.admit(Subject(agent_id=7), reserve_tokens=0, reserve_cost_microusd=0, now=T0)
    with pytest.raises(LimitExceeded):
        limiter.admit(Subject(agent_id=7), reserve_tokens=0, reserve_cost_microusd=0, now=T0)


def test_requests_per_minute_is_a_sliding_window() -> None:
    limiter = limiter_with(rule("requests", "minute", 3), now=T0)
    for offset in (0, 20, 40):
        limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=0, now=T0 + timedelta(seconds=offset))
    with pytest.raises(LimitExceeded) as refused:
        limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=0, now=T0 + timedelta(seconds=59))
    assert refused.value.limit == "3 requests per minute"
    assert refused.value.reset_at == T0 + timedelta(seconds=60)  # when the oldest call leaves the window
    assert refused.value.rate_limit
    limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=0, now=T0 + timedelta(seconds=60))
    with pytest.raises(LimitExceeded) as refused:
        limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=0, now=T0 + timedelta(seconds=61))
    assert refused.value.reset_at == T0 + timedelta(seconds=80)


def test_tokens_per_minute_reserve_then_settle() -> None:
    limiter = limiter_with(rule("tokens", "minute", 1_000), now=T0)
    first = limiter.admit(ADA, reserve_tokens=800, reserve_cost_microusd=0, now=T0)
    with pytest.raises(LimitExceeded) as refused:
        limiter.admit(ADA, reserve_tokens=300, reserve_cost_microusd=0, now=T0 + timedelta(seconds=10))
    assert refused.value.reset_at == T0 + timedelta(seconds=60)
    first.settle(tokens=100, cost_microusd=0, now=T0 + timedelta(seconds=11))
    limiter.admit(ADA, reserve_tokens=900, reserve_cost_microusd=0, now=T0 + timedelta(seconds=12))
    with pytest.raises(LimitExceeded) as refused:
        limiter.admit(ADA, reserve_tokens=1, reserve_cost_microusd=0, now=T0 + timedelta(seconds=13))
    # The 100 of the first call leave at T0+60, the 900 at T0+72; one more token needs the first to go.
    assert refused.value.reset_at == T0 + timedelta(seconds=60)


def test_a_call_settled_after_its_window_entry_expired_changes_nothing() -> None:
    limiter = limiter_with(rule("tokens", "minute", 1_000), now=T0)
    slow = limiter.admit(ADA, reserve_tokens=1_000, reserve_cost_microusd=0, now=T0)
    limiter.admit(ADA, reserve_tokens=1_000, reserve_cost_microusd=0, now=T0 + timedelta(seconds=61))
    slow.settle(tokens=10, cost_microusd=0, now=T0 + timedelta(seconds=62))
    with pytest.raises(LimitExceeded):
        limiter.admit(ADA, reserve_tokens=1, reserve_cost_microusd=0, now=T0 + timedelta(seconds=62))


def test_concurrent_requests_are_released_by_settle() -> None:
    limiter = limiter_with(rule("concurrent", "", 2), now=T0)
    first = limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=0, now=T0)
    limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=0, now=T0)
    with pytest.raises(LimitExceeded) as refused:
        limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=0, now=T0)
    assert refused.value.limit == "2 concurrent requests"
    assert refused.value.retry_after_s == 1
    first.settle(tokens=0, cost_microusd=0, now=T0)
    limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=0, now=T0)


def test_a_call_admitted_before_midnight_and_settled_after_counts_in_the_old_day() -> None:
    limiter = limiter_with(rule("usd", "day", 1_000), now=T0)
    late = limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=1_000, now=T0)
    next_day = T0 + timedelta(minutes=2)
    fresh = limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=600, now=next_day)
    late.settle(tokens=0, cost_microusd=1_000, now=next_day)
    limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=400, now=next_day)
    fresh.settle(tokens=0, cost_microusd=600, now=next_day)
    with pytest.raises(LimitExceeded):
        limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=1, now=next_day)


def test_changing_the_amount_keeps_the_spend() -> None:
    limiter = limiter_with(rule("usd", "day", 1_000), now=T0)
    limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=800, now=T0).settle(
        tokens=0, cost_microusd=800, now=T0
    )
    limiter.replace(Snapshot(rules=[rule("usd", "day", 900)]), now=T0)
    with pytest.raises(LimitExceeded):
        limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=101, now=T0)
    limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=100, now=T0)
    limiter.replace(Snapshot(rules=[]), now=T0)
    limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=10**9, now=T0)


def test_spend_loaded_from_the_database_counts_when_higher_than_our_own() -> None:
    limiter = limiter_with(rule("usd", "day", 1_000), now=T0)
    key = ("user", 1, "usd", "day")
    limiter.replace(
        Snapshot(rules=[rule("usd", "day", 1_000)], spend={key: (T0.replace(hour=0, minute=0), 950)}), now=T0
    )  # type: ignore[dict-item]
    with pytest.raises(LimitExceeded):
        limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=51, now=T0)
    limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=50, now=T0)
    # Spend of another period is ignored.
    other = limiter_with(rule("usd", "day", 1_000), now=T0)
    other.replace(
        Snapshot(rules=[rule("usd", "day", 1_000)], spend={key: (datetime(2026, 12, 1, tzinfo=UTC), 999)}),
        now=T0,
    )  # type: ignore[dict-item]
    other.admit(ADA, reserve_tokens=0, reserve_cost_microusd=1_000, now=T0)


def test_soft_budget_never_refuses_and_alerts_once_per_period() -> None:
    limiter = limiter_with(rule("usd", "day", 100, enforcement="soft"), now=T0)
    for _ in range(3):
        limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=80, now=T0).settle(
            tokens=0, cost_microusd=80, now=T0
        )
    alerts = limiter.take_alerts()
    assert [(a.spent, a.rule.amount) for a in alerts] == [(160, 100)]
    assert limiter.take_alerts() == []
    tomorrow = T0 + timedelta(minutes=5)
    limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=0, now=tomorrow).settle(
        tokens=0, cost_microusd=150, now=tomorrow
    )
    assert [a.period_start for a in limiter.take_alerts()] == [datetime(2026, 12, 3, tzinfo=UTC)]


def test_a_late_arriving_call_from_before_midnight_does_not_roll_the_day_back() -> None:
    limiter = limiter_with(rule("usd", "day", 1_000), now=T0)
    after = T0 + timedelta(minutes=2)
    limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=0, now=after).settle(
        tokens=0, cost_microusd=900, now=after
    )
    # Took its clock reading before midnight, reached the limiter after: charged to the new day.
    with pytest.raises(LimitExceeded):
        limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=200, now=T0)
    limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=100, now=T0)
    with pytest.raises(LimitExceeded):
        limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=1, now=after)
