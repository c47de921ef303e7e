"""Usage and cost: tokens per bucket, effective tokens and cost, grouped, from the daily rollups only
(organization-wide: from Clarity's sums of them, `summaries.py`).

The same rollups `GET /api/v1/usage/summary` sums, with effective tokens added (`measures.py`) and a
daily series for charts. Teams are the team at the time of each call (as metering stamped it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meshclaw.clarity.freshness import stale_days
from meshclaw.clarity.measures import effective_tokens
from meshclaw.clarity.ranges import DateRange
from meshclaw.clarity.week_blocks import day_spans, week_block
from meshclaw.db.models import UsageRollup
from meshclaw.db.models.clarity import ClarityUsageDay, ClarityUsageWeek
from meshclaw.metering.events import BUCKETS
from meshclaw.metering.labels import group_labels
from meshclaw.metering.queries import Scope, scope_clause

GroupBy = Literal["team", "user", "agent", "model", "client", "source", "initiator"]
GROUP_BYS: tuple[GroupBy, ...] = ("team", "user", "agent", "model", "client", "source", "initiator")
_COLUMN = {
    "team": "team_id",
    "user": "user_id",
    "agent": "agent_id",
    "model": "model",
    "client": "client",
    "source": "source",
    "initiator": "initiator",
}
_SUMS = ("requests", "errors", *BUCKETS, "cost_microusd")


@dataclass(frozen=True, kw_only=True)
class UsageRow:
    key: int | str | None
    label: str | None
    day: date | None
    """Set in a daily series."""
    requests: int
    errors: int
    tokens: dict[str, int]
    """Per bucket."""
    total_tokens: int
    effective_tokens: float
    cost_microusd: int


def _key(group_by: GroupBy, value: Any) -> int | str | None:
    if group_by in ("team", "user", "agent"):
        return int(value) or None
    return str(value) or None


def _rollup_sums(
    session: Session,
    scope: Scope,
    window: DateRange,
    keys: list[Any],
    *,
    user_id: int | None,
    team_id: int | None,
    days: list[datetime] | None,
    agent_id: int | None = None,
) -> list[Any]:
    """(keys..., sums..., effective tokens) from the daily rollups; only `days` when given."""
    r = UsageRollup
    where = [
        r.bucket == "day",
        r.bucket_start >= window.start,
        r.bucket_start < window.end,
        scope_clause(scope, r.user_id, r.team_id),
    ]
    if user_id is not None:
        where.append(r.user_id == user_id)
    if team_id is not None:
        where.append(r.team_id == team_id)
    if agent_id is not None:
        where.append(r.agent_id == agent_id)
    if days is not None:
        where.append(r.bucket_start.in_(days))
    query = select(*keys, *(func.sum(getattr(r, name)) for name in _SUMS), effective_tokens()).where(*where)
    if keys:
        query = query.group_by(*keys)
    return list(session.connection().execute(query))


def _summary_sums(
    session: Session,
    window: DateRange,
    group_by: GroupBy | None,
    *,
    daily: bool,
    stale: list[datetime],
    agent_id: int | None = None,
) -> list[Any]:
    """The same as `_rollup_sums` for everyone, from `clarity_usage_days`, leaving out `stale` days; not
    daily, whole current weeks come from `clarity_usage_weeks` (a year by team: 52 rows a team, not 365)."""
    u = ClarityUsageDay
    keys: list[Any] = []
    if group_by is not None:
        keys.append(u.key)
    if daily:
        keys.append(u.day)
    dimension = group_by or "all"
    block = None if daily else week_block(session, window, stale)
    records: list[Any] = []
    if block is not None:
        w = ClarityUsageWeek
        week_keys: list[Any] = [w.key] if group_by is not None else []
        week_where = [
            w.dimension == dimension,
            w.week_start >= block[0].date(),
            w.week_start < block[1].date(),
        ]
        if agent_id is not None:
            week_where.append(w.key == str(agent_id))
        weeks = select(
            *week_keys, *(func.sum(getattr(w, name)) for name in _SUMS), func.sum(w.effective_tokens)
        )
        weeks = weeks.where(*week_where)
        if week_keys:
            weeks = weeks.group_by(*week_keys)
        records += session.connection().execute(weeks)
    for first, end in day_spans(window, block):
        where = [u.dimension == dimension, u.day >= first, u.day < end]
        if stale:
            where.append(u.day.not_in(stale))
        if agent_id is not None:  # (only with group_by="agent": the rows' key is the agent)
            where.append(u.key == str(agent_id))
        query = select(*keys, *(func.sum(getattr(u, name)) for name in _SUMS), func.sum(u.effective_tokens))
        query = query.where(*where)
        if keys:
            query = query.group_by(*keys)
        records += session.connection().execute(query)
    return records


def _merged(
    session: Session,
    scope: Scope,
    window: DateRange,
    group_by: GroupBy | None,
    *,
    daily: bool,
    user_id: int | None,
    team_id: int | None,
    agent_id: int | None = None,
) -> dict[tuple[int | str | None, datetime | None], list[Any]]:
    """(group, day) -> [sums..., effective tokens], unrounded.

    Everyone's usage, unnarrowed, is summed from Clarity's per-day table for the days it is current
    for and from the rollups for the rest (`freshness.py`); anything narrowed reads the rollups, through
    the per-person and per-team indexes.
    """
    r = UsageRollup
    keys: list[Any] = []
    if group_by is not None:
        keys.append(getattr(r, _COLUMN[group_by]))
    if daily:
        keys.append(r.bucket_start)
    if scope.everyone and user_id is None and team_id is None:
        stale = stale_days(session, window.start, window.end)
        records = _summary_sums(session, window, group_by, daily=daily, stale=stale, agent_id=agent_id)
        if stale:
            records += _rollup_sums(
                session, scope, window, keys, user_id=None, team_id=None, days=stale, agent_id=agent_id
            )
    else:
        records = _rollup_sums(
            session, scope, window, keys, user_id=user_id, team_id=team_id, days=None, agent_id=agent_id
        )
    merged: dict[tuple[int | str | None, datetime | None], list[Any]] = {}
    for record in records:
        values = record[len(keys) :]
        if values[0] is None:
            continue
        group = _key(group_by, record[0]) if group_by is not None else None
        moment: datetime | None = record[len(keys) - 1] if daily else None
        found = merged.get((group, moment))
        merged[(group, moment)] = (
            [*values] if found is None else [a + b for a, b in zip(found, values, strict=True)]
        )
    return merged


def everyone_totals(
    session: Session, window: DateRange, *, agent_id: int | None = None
) -> tuple[int, int, float]:
    """Everyone's (or one agent's) cost, tokens and effective tokens, unrounded, in the window."""
    group_by: GroupBy | None = "agent" if agent_id is not None else None
    merged = _merged(session, Scope.all(), window, group_by, daily=False, user_id=None, team_id=None)
    values = merged.get((agent_id, None))
    if values is None:
        return 0, 0, 0.0
    return (
        int(values[_SUMS.index("cost_microusd")]),
        sum(int(values[_SUMS.index(b)]) for b in BUCKETS),
        float(values[-1] or 0.0),
    )


def usage_rows(
    session: Session,
    scope: Scope,
    window: DateRange,
    *,
    group_by: GroupBy | None,
    daily: bool = False,
    user_id: int | None = None,
    team_id: int | None = None,
    agent_id: int | None = None,
) -> list[UsageRow]:
    """One row per group (and per day when `daily`), most expensive first (a series: by day).

    `agent_id` keeps one agent's rows, with `group_by="agent"` (the agent page)."""
    if agent_id is not None and group_by != "agent":
        raise ValueError("agent_id narrows a usage query grouped by agent")
    merged = _merged(
        session, scope, window, group_by, daily=daily, user_id=user_id, team_id=team_id, agent_id=agent_id
    )
    # Labelled as built (not replaced after): thousands of rows when grouped by person.
    labels = group_labels(session, group_by, {group for group, _ in merged}) if group_by is not None else {}
    rows: list[UsageRow] = []
    for (group, moment), values in merged.items():
        sums = {name: int(value) for name, value in zip(_SUMS, values[: len(_SUMS)], strict=True)}
        rows.append(
            UsageRow(
                key=group,
                label=labels.get(group),
                day=moment.date() if moment is not None else None,
                requests=sums["requests"],
                errors=sums["errors"],
                tokens={bucket: sums[bucket] for bucket in BUCKETS},
                total_tokens=sum(sums[bucket] for bucket in BUCKETS),
                effective_tokens=round(float(values[-1] or 0.0), 1),
                cost_microusd=sums["cost_microusd"],
            )
        )
    rows.sort(key=lambda row: (-row.cost_microusd, -row.requests, str(row.key)))
    if daily:
        rows.sort(key=lambda row: row.day or date.min)
    return rows
