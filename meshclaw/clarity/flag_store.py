"""Flags kept for review: scoring a week into `clarity_flags`, listing them, recording reviews.

Re-scoring a week replaces its open flags and leaves reviewed ones (confirmed or dismissed) as the
reviewer left them.

When a week is scored: each scoring records the week's `data_version` (what the detector reads: the
`rollup_days` versions of the week and its history weeks, and the week's activity events), read before
the detector runs. A week is scored again only when that version moved on, and at most every
`RESCORE_AFTER` while the week is under way. So late events (an import of last month) make a finished week
due again instead of being ignored, and a week scored early, even before it ended, is not frozen with
what it had then. That is what lets the server's upkeep (`upkeep.py`) score weeks in the background,
newest first over `SCORE_WEEKS`, so a reader finds them scored; reading a range (`ensure_scored`) still
scores what is due, for the CLI without a server and for weeks the upkeep has not reached yet.

Weeks scored before versions were recorded (migration 0018) keep the rule they were scored under: final
if scored after their end, otherwise due again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meshclaw.clarity.detector import detect_flags
from meshclaw.clarity.features import HISTORY_WEEKS
from meshclaw.clarity.flags import Flag, Signal
from meshclaw.clarity.weeks import monday_of, week_bounds, weeks_between
from meshclaw.db.models import ActivityEventRow, ClarityDetectionRun, ClarityFlag
from meshclaw.db.models.metering import RollupDay
from meshclaw.errors import BadRequestError, NotFoundError

Review = Literal["confirmed", "dismissed"]
REVIEWS: tuple[Review, ...] = ("confirmed", "dismissed")
FLAG_STATUSES = ("open", *REVIEWS)
RESCORE_AFTER = timedelta(minutes=15)
"""A week under way whose data moved on is scored again at most this often."""
SCORE_WEEKS = 27
"""The upkeep keeps this many weeks scored, the current one included: the flag pages' longest range
(182 days) touches up to 27 weeks."""


@dataclass(frozen=True, kw_only=True)
class StoredFlag:
    id: int
    flag: Flag
    status: str
    """open, confirmed or dismissed."""
    detected_at: datetime
    reviewed_by_user_id: int | None
    reviewed_at: datetime | None
    review_note: str | None


def data_versions(session: Session, mondays: list[date]) -> dict[date, int]:
    """Per week, a number that grows with every write the week's scoring reads: the `rollup_days`
    versions of the week and the `HISTORY_WEEKS` before it (usage and outcomes), plus the week's activity
    events (which are only ever added). The day versions of all the weeks are read at once."""
    if not mondays:
        return {}
    first = week_bounds(min(mondays))[0] - timedelta(weeks=HISTORY_WEEKS)
    end = week_bounds(max(mondays))[1]
    r, a = RollupDay, ActivityEventRow
    versions = session.execute(select(r.day, r.version).where(r.day >= first, r.day < end))
    days = [(day, int(version)) for day, version in versions]
    found: dict[date, int] = {}
    for monday in mondays:
        start, stop = week_bounds(monday)
        since = start - timedelta(weeks=HISTORY_WEEKS)
        activity = session.scalar(
            select(func.count()).select_from(a).where(a.occurred_at >= start, a.occurred_at < stop)
        )
        found[monday] = sum(version for day, version in days if since <= day < stop) + int(activity or 0)
    return found


def data_version(session: Session, week_start: date) -> int:
    """`data_versions` of one week."""
    monday = monday_of(week_start)
    return data_versions(session, [monday])[monday]


def refresh_week(session: Session, week_start: date, *, now: datetime) -> int:
    """Score the week and store its flags; returns how many flags the week has now."""
    version = data_version(session, week_start)  # before the detector: a write during it leaves it due
    flags = detect_flags(session, week_start)
    monday = monday_of(week_start)
    reviewed = set(
        session.scalars(
            select(ClarityFlag.subject_key).where(
                ClarityFlag.week_start == monday, ClarityFlag.status != "open"
            )
        )
    )
    session.execute(delete(ClarityFlag).where(ClarityFlag.week_start == monday, ClarityFlag.status == "open"))
    for flag in flags:
        key = flag.subject_key
        if key in reviewed:
            continue
        session.add(
            ClarityFlag(
                week_start=monday,
                subject_key=key,
                kind=flag.kind,
                subject=flag.subject,
                user_id=flag.user_id,
                agent_id=flag.agent_id,
                pattern=flag.pattern,
                score=flag.score,
                signals=[
                    {"name": s.name, "value": s.value, "baseline": s.baseline, "description": s.description}
                    for s in flag.signals
                ],
                explanation=flag.explanation,
                evidence=list(flag.evidence),
                status="open",
                detected_at=now,
            )
        )
    run = session.get(ClarityDetectionRun, monday)
    if run is None:
        run = ClarityDetectionRun(week_start=monday)
        session.add(run)
    run.ran_at = now
    run.flags = len(flags)
    run.data_version = version
    session.flush()
    return len(flags)


def due_weeks(session: Session, mondays: list[date], *, now: datetime) -> list[date]:
    """The weeks that need scoring now (see the module docstring), in the order given."""
    begun = [monday for monday in mondays if week_bounds(monday)[0] <= now]  # not begun: nothing to score
    runs = {
        run.week_start: run
        for run in session.scalars(
            select(ClarityDetectionRun).where(ClarityDetectionRun.week_start.in_(begun))
        )
    }
    versions = data_versions(
        session, [monday for monday in begun if monday in runs and runs[monday].data_version is not None]
    )
    due: list[date] = []
    for monday in begun:
        run, end = runs.get(monday), week_bounds(monday)[1]
        if run is None:
            due.append(monday)
        elif run.data_version is None:  # scored before 0018: the rule it was scored under
            if run.ran_at < end and now - run.ran_at >= RESCORE_AFTER:
                due.append(monday)
        elif run.data_version != versions[monday] and (
            now >= end or now - run.ran_at >= RESCORE_AFTER  # a finished week at once
        ):
            due.append(monday)
    return due


def is_due(session: Session, monday: date, *, now: datetime) -> bool:
    """Whether the week needs scoring now (see the module docstring)."""
    return bool(due_weeks(session, [monday_of(monday)], now=now))


def _score(session: Session, monday: date, *, now: datetime) -> bool:
    # Two readers, or a reader and the upkeep, may score the same week at once; the second one's insert
    # then hits the unique keys. Its work is the same as the first's, so it gives way.
    try:
        with session.begin_nested():
            refresh_week(session, monday, now=now)
    except IntegrityError:
        return False
    return True


def ensure_scored(session: Session, first: date, last: date, *, now: datetime) -> None:
    """Score the weeks from `first` to `last` that are due (see the module docstring)."""
    for monday in due_weeks(session, weeks_between(first, last), now=now):
        _score(session, monday, now=now)


def _has_usage(session: Session, monday: date) -> bool:
    """Whether any rollups were written for the week (the detector judges subjects with model calls)."""
    start, end = week_bounds(monday)
    found = select(RollupDay.day).where(RollupDay.day >= start, RollupDay.day < end).limit(1)
    return session.scalar(found) is not None


def score_due(session: Session, *, now: datetime, limit: int = 1) -> list[date]:
    """The upkeep's round: score at most `limit` due weeks with data among the last `SCORE_WEEKS`, newest
    first; returns the weeks scored. The caller commits."""
    scored: list[date] = []
    current = monday_of(now.date())
    for index in range(SCORE_WEEKS):
        if len(scored) >= limit:
            break
        monday = current - timedelta(weeks=index)
        if (
            _has_usage(session, monday)
            and is_due(session, monday, now=now)
            and _score(session, monday, now=now)
        ):
            scored.append(monday)
    return scored


def _stored(row: ClarityFlag) -> StoredFlag:
    flag = Flag(
        week_start=row.week_start,
        kind="agent" if row.kind == "agent" else "person",
        subject=row.subject,
        user_id=row.user_id,
        agent_id=row.agent_id,
        score=row.score,
        signals=tuple(
            Signal(name=s["name"], value=s["value"], baseline=s["baseline"], description=s["description"])
            for s in row.signals
        ),
        explanation=row.explanation,
        evidence=tuple(row.evidence),
    )
    return StoredFlag(
        id=row.id,
        flag=flag,
        status=row.status,
        detected_at=row.detected_at,
        reviewed_by_user_id=row.reviewed_by_user_id,
        reviewed_at=row.reviewed_at,
        review_note=row.review_note,
    )


def _listed(first_week: date, last_week: date, user_id: int | None, status: str | None) -> list[Any]:
    where = [ClarityFlag.week_start >= first_week, ClarityFlag.week_start <= last_week]
    if user_id is not None:
        where.append(ClarityFlag.user_id == user_id)
    if status is not None:
        where.append(ClarityFlag.status == status)
    return where


def list_flags(
    session: Session,
    first_week: date,
    last_week: date,
    *,
    user_id: int | None = None,
    status: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[StoredFlag]:
    """Stored flags of the weeks from `first_week` to `last_week` (Mondays), newest week first and the
    highest score first within a week; `user_id`: only that person's (their own flags and those of agents
    acting for them); `status`: only those; `limit` and `offset`: one page of them."""
    query = select(ClarityFlag).where(*_listed(first_week, last_week, user_id, status))
    query = query.order_by(ClarityFlag.week_start.desc(), ClarityFlag.score.desc(), ClarityFlag.id)
    return [_stored(row) for row in session.scalars(query.limit(limit).offset(offset))]


def count_flags(
    session: Session, first_week: date, last_week: date, *, user_id: int | None = None
) -> dict[str, int]:
    """How many of those flags there are per status (open, confirmed, dismissed)."""
    query = (
        select(ClarityFlag.status, func.count())
        .where(*_listed(first_week, last_week, user_id, None))
        .group_by(ClarityFlag.status)
    )
    return {status: int(count) for status, count in session.execute(query)}


def get_flag(session: Session, flag_id: int) -> StoredFlag | None:
    row = session.get(ClarityFlag, flag_id)
    return _stored(row) if row is not None else None


def review_flag(
    session: Session, flag_id: int, status: str, *, note: str | None, by_user_id: int, now: datetime
) -> StoredFlag:
    if status not in REVIEWS:
        raise BadRequestError(
            f"status must be one of {', '.join(REVIEWS)}, not {status[:40]!r}", field="status"
        )
    if note is not None and len(note) > 2000:
        raise BadRequestError("note must be at most 2000 characters", field="note")
    row = session.get(ClarityFlag, flag_id)
    if row is None:
        raise NotFoundError(f"no flag with id {flag_id}")
    row.status = status
    row.review_note = note
    row.reviewed_by_user_id = by_user_id
    row.reviewed_at = now
    session.flush()
    return _stored(row)
