"""Keeps Clarity's day and week tables (`clarity_usage_days`, `clarity_outcome_days`,
`clarity_person_weeks`, and the weeks' sums of the day tables) current with the daily rollups.

Organization-wide pages sum a range of the organization's rollups; at 5,000 people that is millions of
rows a year, too many per page view. These tables hold the same sums per day and one dimension (team,
person, agent, model, app, source, initiator, or all), and per person and week, so a page sums a few
hundred rows per day instead of thousands.

They are written here, from the rollups, with the very expressions the views use (`measures.py`,
`outcomes.py`, `adoption.person_weeks`), so a day's row is by construction what a view would have summed
from that day's rollups. `refresh` re-sums every day whose `rollup_days` version moved on (and the weeks
those days belong to) and records the version it summed; readers use only days whose version matches
(`freshness.py`) and read the rollups of the rest. A refresh that races a write therefore never makes a
reader wrong: the write raises the version again and the day reads from the rollups until the next
refresh. The server refreshes at start and then every `REFRESH_SECONDS` in the background.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Float, String, cast, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from meshclaw.clarity.adoption import count_stored_weeks, person_weeks
from meshclaw.clarity.measures import effective_tokens, value_units
from meshclaw.clarity.outcomes import unpriced_units
from meshclaw.clarity.people import read_roster
from meshclaw.clarity.settings_store import load_config
from meshclaw.clarity.weeks import week_bounds
from meshclaw.db.models import Organization, OutcomeRollup, UsageRollup
from meshclaw.db.models.clarity import (
    ClarityAdoptionWeek,
    ClarityOutcomeDay,
    ClarityOutcomeWeek,
    ClarityPersonWeek,
    ClaritySummaryDay,
    ClaritySummaryWeek,
    ClarityTeamWeek,
    ClarityUsageDay,
    ClarityUsageWeek,
)
from meshclaw.db.models.metering import RollupDay

REFRESH_SECONDS = 60.0
USAGE_DIMENSIONS = {
    "all": None,
    "team": "team_id",
    "user": "user_id",
    "agent": "agent_id",
    "model": "model",
    "client": "client",
    "source": "source",
    "initiator": "initiator",
}
"""Dimension name -> `usage_rollups` column (`all`: one row per day)."""
OUTCOME_DIMENSIONS = {"type": "type", "team": "team_id"}
_USAGE_SUMS = (
    "requests",
    "errors",
    "input_uncached",
    "cache_read",
    "cache_write",
    "output",
    "reasoning",
    "cost_microusd",
)
_OUTCOME_SUMS = ("count", "quantity", "accepted", "rejected", "minutes_saved", "unpriced", "value_units")


@dataclass(frozen=True, kw_only=True)
class Refreshed:
    days: int
    weeks: int
    """Weeks whose person rows were summed again (the weeks of the days)."""
    usage_weeks: int = 0
    """Weeks whose `clarity_usage_weeks` and `clarity_outcome_weeks` were written (those, and weeks never
    written)."""
    backfilled: int = 0
    """Of those, weeks never written before (summed before the table existed); more may be left."""
    team_weeks: int = 0
    """(organization, week) pairs counted per team again: rewritten weeks, and weeks whose stamp names
    another active rule or roster."""


def _sum_usage_day(session: Session, day: datetime) -> None:
    r, u = UsageRollup, ClarityUsageDay
    for dimension, column in USAGE_DIMENSIONS.items():
        key = cast(getattr(r, column), String) if column else literal("")
        sums = [func.sum(getattr(r, name)) for name in _USAGE_SUMS]
        query = select(literal(dimension), r.bucket_start, key, *sums, effective_tokens()).where(
            r.bucket == "day", r.bucket_start == day
        )
        if column:
            query = query.group_by(r.bucket_start, getattr(r, column))
        else:
            query = query.group_by(r.bucket_start)
        columns = ["dimension", "day", "key", *_USAGE_SUMS, "effective_tokens"]
        session.execute(insert(u).from_select(columns, query))


def _sum_outcome_day(session: Session, day: datetime) -> None:
    o, d = OutcomeRollup, ClarityOutcomeDay
    for dimension, column in OUTCOME_DIMENSIONS.items():
        query = (
            select(
                literal(dimension),
                o.bucket_start,
                cast(getattr(o, column), String),
                func.sum(o.count),
                func.sum(cast(o.quantity, Float)),
                func.sum(o.accepted),
                func.sum(o.rejected),
                func.sum(cast(o.minutes_saved, Float)),
                unpriced_units(),
                value_units(),
            )
            .where(o.bucket == "day", o.bucket_start == day)
            .group_by(o.bucket_start, getattr(o, column))
        )
        columns = ["dimension", "day", "key", "count", "quantity", "accepted", "rejected", "minutes_saved",
                   "unpriced", "value_units"]  # fmt: skip
        session.execute(insert(d).from_select(columns, query))


def _sum_week(session: Session, monday: date) -> None:
    session.execute(delete(ClarityPersonWeek).where(ClarityPersonWeek.week_start == monday))
    rows: list[dict[str, Any]] = [
        {
            "week_start": monday,
            "user_id": user_id,
            "human_days": week.human_days,
            "human_requests": week.human_requests,
            "human_tokens": week.human_tokens,
            "automation_requests": week.automation_requests,
            "automation_tokens": week.automation_tokens,
            "accepted_outcomes": week.accepted_outcomes,
        }
        for user_id, week in person_weeks(session, monday).items()
    ]
    if rows:
        session.execute(insert(ClarityPersonWeek), rows)


def _sum_weeks_of_days(session: Session, monday: date) -> None:
    """A week's `clarity_usage_weeks` and `clarity_outcome_weeks` from its days' rows (days not summed yet
    are missing: such a week is not read from here until they are, and summing them rewrites it)."""
    start, end = week_bounds(monday)
    u, w = ClarityUsageDay, ClarityUsageWeek
    session.execute(delete(w).where(w.dimension.in_(list(USAGE_DIMENSIONS)), w.week_start == monday))
    sums = [func.sum(getattr(u, name)) for name in (*_USAGE_SUMS, "effective_tokens")]
    query = (
        select(u.dimension, literal(monday, type_=Date), u.key, *sums)
        .where(u.dimension.in_(list(USAGE_DIMENSIONS)), u.day >= start, u.day < end)
        .group_by(u.dimension, u.key)
    )
    columns = ["dimension", "week_start", "key", *_USAGE_SUMS, "effective_tokens"]
    session.execute(insert(w).from_select(columns, query))
    d, o = ClarityOutcomeDay, ClarityOutcomeWeek
    session.execute(delete(o).where(o.dimension.in_(list(OUTCOME_DIMENSIONS)), o.week_start == monday))
    query = (
        select(
            d.dimension,
            literal(monday, type_=Date),
            d.key,
            *(func.sum(getattr(d, name)) for name in _OUTCOME_SUMS),
        )
        .where(d.dimension.in_(list(OUTCOME_DIMENSIONS)), d.day >= start, d.day < end)
        .group_by(d.dimension, d.key)
    )
    session.execute(insert(o).from_select(["dimension", "week_start", "key", *_OUTCOME_SUMS], query))
    session.merge(ClaritySummaryWeek(week_start=monday))


def _unwritten_weeks(session: Session) -> set[date]:
    """Weeks with summed days but no week tables written (summed before they existed, or before 0019)."""
    mondays = {
        day.date() - timedelta(days=day.weekday()) for day in session.scalars(select(ClaritySummaryDay.day))
    }
    return mondays - set(session.scalars(select(ClaritySummaryWeek.week_start)))


def _count_team_weeks(session: Session, rewritten: set[date]) -> int:
    """Per organization, count per team the weeks whose person rows were just rewritten, and those whose
    stamp names another active rule or roster than the organization's now. Returns (org, week) pairs."""
    counted = 0
    stored = set(session.scalars(select(ClarityPersonWeek.week_start).distinct()))
    a, t = ClarityAdoptionWeek, ClarityTeamWeek
    for org_id in list(session.scalars(select(Organization.id))):
        config = load_config(session, org_id)
        roster = read_roster(session, org_id)
        current = set(
            session.scalars(
                select(a.week_start).where(
                    a.org_id == org_id,
                    a.active_min_days == config.active_min_days,
                    a.active_min_accepted == config.active_min_accepted,
                    a.roster_key == roster.key,
                )
            )
        )
        mondays = sorted(rewritten | (stored - current))
        if not mondays:
            continue
        session.execute(delete(t).where(t.org_id == org_id, t.week_start.in_(mondays)))
        session.execute(delete(a).where(a.org_id == org_id, a.week_start.in_(mondays)))
        groups = count_stored_weeks(session, org_id, mondays, config)
        rows: list[dict[str, Any]] = [
            {
                "org_id": org_id,
                "week_start": monday,
                "team_id": team_id or 0,
                "active": group.active,
                "light": group.cohorts["light"],
                "moderate": group.cohorts["moderate"],
                "heavy": group.cohorts["heavy"],
                "automation_people": group.automation_people,
                "human_tokens": group.human_tokens,
                "automation_tokens": group.automation_tokens,
            }
            for monday in mondays
            for team_id, group in groups.get(monday, {}).items()
        ]
        if rows:
            session.execute(insert(t), rows)
        if read_roster(session, org_id).key != roster.key:
            continue  # someone moved or left while counting: unstamped, readers count; the next round stamps
        session.execute(
            insert(a),
            [
                {
                    "org_id": org_id,
                    "week_start": monday,
                    "active_min_days": config.active_min_days,
                    "active_min_accepted": config.active_min_accepted,
                    "roster_key": roster.key,
                }
                for monday in mondays
            ],
        )
        counted += len(mondays)
    return counted


def refresh(session: Session, *, limit: int | None = None) -> Refreshed:
    """Re-sum the days whose rollups moved on since they were summed, newest first (the days pages show
    by default; at most `limit`), and the weeks they fall in. The caller commits."""
    r, s = RollupDay, ClaritySummaryDay
    stale = (
        select(r.day, r.version)
        .outerjoin(s, s.day == r.day)
        .where((s.version.is_(None)) | (s.version != r.version))
        .order_by(r.day.desc())
    )
    if limit is not None:
        stale = stale.limit(limit)
    # Versions are read before the rollups: a write after this point raises the version past what is
    # recorded below, so the day stays stale rather than being marked current with sums that miss it.
    days = [(day, version) for day, version in session.execute(stale)]
    weeks: set[date] = set()
    for day, version in days:
        # By dimension and day: the unique keys' leading columns, so each delete is an index range.
        u, d = ClarityUsageDay, ClarityOutcomeDay
        session.execute(delete(u).where(u.dimension.in_(list(USAGE_DIMENSIONS)), u.day == day))
        session.execute(delete(d).where(d.dimension.in_(list(OUTCOME_DIMENSIONS)), d.day == day))
        _sum_usage_day(session, day)
        _sum_outcome_day(session, day)
        session.merge(ClaritySummaryDay(day=day, version=version))
        weeks.add(day.date() - timedelta(days=day.weekday()))
    for monday in sorted(weeks):
        _sum_week(session, monday)
    unwritten = sorted(_unwritten_weeks(session) - weeks, reverse=True)
    if limit is not None:
        unwritten = unwritten[: max(limit, 1)]  # newest first, a few per transaction like the days
    usage_weeks = weeks | set(unwritten)
    for monday in sorted(usage_weeks):
        _sum_weeks_of_days(session, monday)
    team_weeks = _count_team_weeks(session, weeks)
    session.flush()
    return Refreshed(
        days=len(days),
        weeks=len(weeks),
        usage_weeks=len(usage_weeks),
        backfilled=len(unwritten),
        team_weeks=team_weeks,
    )
