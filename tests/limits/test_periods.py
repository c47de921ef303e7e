"""UTC calendar periods: where each day, week (from Monday) and month starts and ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from meshclaw.limits.periods import period_bounds


def test_day_week_and_month_bounds_in_utc() -> None:
    now = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)  # a Wednesday
    assert period_bounds("day", now) == (datetime(2026, 12, 2, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC))
    assert period_bounds("week", now) == (
        datetime(2026, 11, 30, tzinfo=UTC),
        datetime(2026, 12, 7, tzinfo=UTC),
    )
    assert period_bounds("month", now) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )


def test_the_instant_of_a_boundary_belongs_to_the_new_period() -> None:
    midnight = datetime(2027, 1, 1, tzinfo=UTC)
    assert period_bounds("month", midnight)[0] == midnight
    assert period_bounds("month", midnight - timedelta(microseconds=1))[0] == datetime(
        2026, 12, 1, tzinfo=UTC
    )


def test_a_local_time_is_placed_by_its_utc_instant() -> None:
    # 01:00 on the 1st in UTC+2 is still the last day of the previous month in UTC.
    local = datetime(2026, 12, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert period_bounds("day", local)[0] == datetime(2026, 11, 30, tzinfo=UTC)
    assert period_bounds("month", local)[0] == datetime(2026, 11, 1, tzinfo=UTC)
