"""Leaderboards ranked by what was achieved, never by tokens burned.

`rank_by="outcomes"`: value units (`measures.py`: accepted decisions, commits, PRs, lines / 100 ...),
per person for teams so large teams do not win by size; `rank_by="yield"`: value units per 1,000
effective tokens, only for subjects that used at least `MIN_YIELD_TOKENS` (a single lucky outcome on a
handful of tokens is not a yield). Rows carry no token counts: a leaderboard that shows tokens invites
the race this feature exists to stop. Flags never appear here.

Which boards a reader may see (teams of 5 or more only; individual boards only where an admin turned
them on) is decided by `access.py`; this module only ranks.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meshclaw.clarity.measures import effective_tokens, value_units
from meshclaw.clarity.ranges import DateRange
from meshclaw.db.models import OutcomeRollup, UsageRollup

RankBy = Literal["outcomes", "yield"]
RANK_BYS: tuple[RankBy, ...] = ("outcomes", "yield")
MIN_YIELD_TOKENS = 10_000.0


@dataclass(frozen=True, kw_only=True)
class Entry:
    rank: int
    key: int
    label: str
    value_units: float
    """For a team: per person (its `people`)."""
    accepted_outcomes: int
    outcomes_per_1k_effective_tokens: float | None
    people: int | None = None
    """Teams only: active people now."""


def _sums(
    session: Session, window: DateRange, column: str, keys: Collection[int]
) -> tuple[dict[int, tuple[float, int]], dict[int, float]]:
    o, r = OutcomeRollup, UsageRollup
    ids = sorted(keys)
    o_key, r_key = getattr(o, column), getattr(r, column)
    outcomes = {
        key: (float(value or 0.0), int(accepted or 0))
        for key, value, accepted in session.execute(
            select(o_key, value_units(), func.sum(o.accepted))
            .where(
                o.bucket == "day", o.bucket_start >= window.start, o.bucket_start < window.end, o_key.in_(ids)
            )
            .group_by(o_key)
        )
    }
    tokens = {
        key: float(value or 0.0)
        for key, value in session.execute(
            select(r_key, effective_tokens())
            .where(
                r.bucket == "day", r.bucket_start >= window.start, r.bucket_start < window.end, r_key.in_(ids)
            )
            .group_by(r_key)
        )
    }
    return outcomes, tokens


def _rank(
    labels: dict[int, str],
    outcomes: dict[int, tuple[float, int]],
    tokens: dict[int, float],
    rank_by: RankBy,
    people: dict[int, int] | None,
) -> list[Entry]:
    rows: list[tuple[float, float, str, int, float, int, float | None]] = []
    for key, label in labels.items():
        value, accepted = outcomes.get(key, (0.0, 0))
        spent = tokens.get(key, 0.0)
        per = value / people[key] if people else value
        yield_ = value * 1000 / spent if spent >= MIN_YIELD_TOKENS else None
        primary = per if rank_by == "outcomes" else (yield_ if yield_ is not None else -1.0)
        secondary = (yield_ if yield_ is not None else -1.0) if rank_by == "outcomes" else per
        rows.append((-primary, -secondary, label, key, per, accepted, yield_))
    rows.sort()
    entries: list[Entry] = []
    for index, (_, _, label, key, per, accepted, yield_) in enumerate(rows, start=1):
        entries.append(
            Entry(
                rank=index,
                key=key,
                label=label,
                value_units=round(per, 2),
                accepted_outcomes=accepted,
                outcomes_per_1k_effective_tokens=round(yield_, 4) if yield_ is not None else None,
                people=people[key] if people else None,
            )
        )
    return entries


def people_board(
    session: Session, window: DateRange, people: dict[int, str], *, rank_by: RankBy
) -> list[Entry]:
    """`people`: user id -> email of the team's current members."""
    outcomes, tokens = _sums(session, window, "user_id", people.keys())
    return _rank(people, outcomes, tokens, rank_by, None)


def teams_board(
    session: Session, window: DateRange, teams: dict[int, str], sizes: dict[int, int], *, rank_by: RankBy
) -> list[Entry]:
    """`teams`: team id -> name, already narrowed to those the board may show."""
    outcomes, tokens = _sums(session, window, "team_id", teams.keys())
    return _rank(teams, outcomes, tokens, rank_by, {key: sizes.get(key, 0) or 1 for key in teams})
