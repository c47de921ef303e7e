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
from datetime import datetime
from typing import Literal

from sqlalchemy import Executable, func, select
from sqlalchemy.orm import Session

from meshclaw.clarity.freshness import stale_days
from meshclaw.clarity.measures import effective_tokens, value_units
from meshclaw.clarity.ranges import DateRange
from meshclaw.clarity.week_blocks import day_spans, week_block
from meshclaw.db.models import OutcomeRollup, UsageRollup
from meshclaw.db.models.clarity import (
    ClarityOutcomeDay,
    ClarityOutcomeWeek,
    ClarityUsageDay,
    ClarityUsageWeek,
)

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


def _team_summary_queries(
    session: Session, window: DateRange, stale: list[datetime], teams: list[str]
) -> list[tuple[Executable, Executable]]:
    """(outcome sums, effective tokens) queries per team from Clarity's tables, leaving out `stale` days:
    whole current weeks from the week tables, the days before and after from the day tables."""
    queries: list[tuple[Executable, Executable]] = []
    block = week_block(session, window, stale)
    if block is not None:
        ow, uw = ClarityOutcomeWeek, ClarityUsageWeek
        first_week, end_week = block[0].date(), block[1].date()
        ow_where = [ow.dimension == "team", ow.week_start >= first_week, ow.week_start < end_week]
        uw_where = [uw.dimension == "team", uw.week_start >= first_week, uw.week_start < end_week]
        queries.append(
            (select(ow.key, func.sum(ow.value_units), func.sum(ow.accepted))
                .where(*ow_where, ow.key.in_(teams)).group_by(ow.key),
             select(uw.key, func.sum(uw.effective_tokens)).where(*uw_where, uw.key.in_(teams)).group_by(uw.key))
        )  # fmt: skip
    d, u = ClarityOutcomeDay, ClarityUsageDay
    for first, end in day_spans(window, block):
        d_where = [d.dimension == "team", d.day >= first, d.day < end, d.key.in_(teams)]
        u_where = [u.dimension == "team", u.day >= first, u.day < end, u.key.in_(teams)]
        if stale:
            d_where.append(d.day.not_in(stale))
            u_where.append(u.day.not_in(stale))
        queries.append(
            (select(d.key, func.sum(d.value_units), func.sum(d.accepted)).where(*d_where).group_by(d.key),
             select(u.key, func.sum(u.effective_tokens)).where(*u_where).group_by(u.key))
        )  # fmt: skip
    return queries


def _sums(
    session: Session, window: DateRange, column: str, keys: Collection[int]
) -> tuple[dict[int, tuple[float, int]], dict[int, float]]:
    """Per key: (value units, accepted outcomes) and effective tokens. Teams read Clarity's week and day
    sums for the days they are current for (`freshness.py`) and the rollups for the rest; people (one
    team's board) read the rollups through the per-person index."""
    o, r = OutcomeRollup, UsageRollup
    ids = sorted(keys)
    o_key, r_key = getattr(o, column), getattr(r, column)
    o_where = [o.bucket == "day", o.bucket_start >= window.start, o.bucket_start < window.end, o_key.in_(ids)]
    r_where = [r.bucket == "day", r.bucket_start >= window.start, r.bucket_start < window.end, r_key.in_(ids)]
    outcomes: dict[int, tuple[float, int]] = {}
    tokens: dict[int, float] = {}
    queries: list[tuple[Executable, Executable]] = [
        (select(o_key, value_units(), func.sum(o.accepted)).where(*o_where).group_by(o_key),
         select(r_key, effective_tokens()).where(*r_where).group_by(r_key)),
    ]  # fmt: skip
    if column == "team_id":
        stale = stale_days(session, window.start, window.end)
        queries = _team_summary_queries(session, window, stale, [str(key) for key in ids])
        if stale:
            o_where.append(o.bucket_start.in_(stale))
            r_where.append(r.bucket_start.in_(stale))
            queries.append(
                (select(o_key, value_units(), func.sum(o.accepted)).where(*o_where).group_by(o_key),
                 select(r_key, effective_tokens()).where(*r_where).group_by(r_key))
            )  # fmt: skip
    for outcome_query, token_query in queries:
        for key, value, accepted in session.execute(outcome_query):
            before_value, before_accepted = outcomes.get(int(key), (0.0, 0))
            outcomes[int(key)] = (before_value + float(value or 0.0), before_accepted + int(accepted or 0))
        for key, value in session.execute(token_query):
            tokens[int(key)] = tokens.get(int(key), 0.0) + float(value or 0.0)
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
