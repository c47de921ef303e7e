"""Flags kept for review: scoring a week into `clarity_flags`, listing them, recording reviews.

Re-scoring a week replaces its open flags and leaves reviewed ones (confirmed or dismissed) as the
reviewer left them. Reading a range scores each week in it that was never scored, or last scored
before it ended and more than `RESCORE_AFTER` ago, so the list is current without a scheduler; a
finished week scored after its end is read as stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meshclaw.clarity.detector import detect_flags
from meshclaw.clarity.flags import Flag, Signal
from meshclaw.clarity.weeks import monday_of, week_bounds, weeks_between
from meshclaw.db.models import ClarityDetectionRun, ClarityFlag
from meshclaw.errors import BadRequestError, NotFoundError

Review = Literal["confirmed", "dismissed"]
REVIEWS: tuple[Review, ...] = ("confirmed", "dismissed")
RESCORE_AFTER = timedelta(minutes=15)


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


def refresh_week(session: Session, week_start: date, *, now: datetime) -> int:
    """Score the week and store its flags; returns how many flags the week has now."""
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
    session.flush()
    return len(flags)


def ensure_scored(session: Session, first: date, last: date, *, now: datetime) -> None:
    """Score the weeks from `first` to `last` that need it (see the module docstring)."""
    for monday in weeks_between(first, last):
        start, end = week_bounds(monday)
        if start > now:
            continue  # a week that has not begun has nothing to score
        run = session.get(ClarityDetectionRun, monday)
        if run is not None and (run.ran_at >= end or now - run.ran_at < RESCORE_AFTER):
            continue
        # Two readers (or server processes) may score the same week at once; the second one's insert
        # then hits the unique keys. Its work is the same as the first's, so it gives way.
        try:
            with session.begin_nested():
                refresh_week(session, monday, now=now)
        except IntegrityError:
            continue


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


def list_flags(
    session: Session, first_week: date, last_week: date, *, user_id: int | None = None
) -> list[StoredFlag]:
    """Stored flags of the weeks from `first_week` to `last_week` (Mondays); `user_id`: only that
    person's (their own flags and those of agents acting for them)."""
    query = select(ClarityFlag).where(
        ClarityFlag.week_start >= first_week, ClarityFlag.week_start <= last_week
    )
    if user_id is not None:
        query = query.where(ClarityFlag.user_id == user_id)
    rows = session.scalars(
        query.order_by(ClarityFlag.week_start.desc(), ClarityFlag.score.desc(), ClarityFlag.id)
    )
    return [_stored(row) for row in rows]


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
