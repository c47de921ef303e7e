"""Usage and cost: tokens per bucket, effective tokens and cost, grouped, from the daily rollups only.

The same rollups `GET /api/v1/usage/summary` sums, with effective tokens added (`measures.py`) and a
daily series for charts. Teams are the team at the time of each call (as metering stamped it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meshclaw.clarity.measures import effective_tokens
from meshclaw.clarity.ranges import DateRange
from meshclaw.db.models import Team, UsageRollup, User
from meshclaw.metering.events import BUCKETS
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


def _labels(session: Session, group_by: GroupBy, keys: set[int | str | None]) -> dict[int | str | None, str]:
    ids = sorted(key for key in keys if isinstance(key, int))
    if group_by == "user" and ids:
        return {
            key: value for key, value in session.execute(select(User.id, User.email).where(User.id.in_(ids)))
        }
    if group_by == "team" and ids:
        return {
            key: value for key, value in session.execute(select(Team.id, Team.name).where(Team.id.in_(ids)))
        }
    if group_by == "agent":
        return {key: f"agent {key}" for key in ids}
    return {key: str(key) for key in keys if isinstance(key, str)}


def usage_rows(
    session: Session,
    scope: Scope,
    window: DateRange,
    *,
    group_by: GroupBy | None,
    daily: bool = False,
    user_id: int | None = None,
    team_id: int | None = None,
) -> list[UsageRow]:
    """One row per group (and per day when `daily`), most expensive first (a series: by day)."""
    r = UsageRollup
    keys: list[Any] = []
    if group_by is not None:
        keys.append(getattr(r, _COLUMN[group_by]))
    if daily:
        keys.append(r.bucket_start)
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
    query = select(*keys, *(func.sum(getattr(r, name)) for name in _SUMS), effective_tokens()).where(*where)
    if keys:
        query = query.group_by(*keys)
    rows: list[UsageRow] = []
    for record in session.execute(query):
        values = record[len(keys) :]
        if values[0] is None:
            continue
        sums = {name: int(value) for name, value in zip(_SUMS, values[: len(_SUMS)], strict=True)}
        moment: datetime | None = record[len(keys) - 1] if daily else None
        rows.append(
            UsageRow(
                key=_key(group_by, record[0]) if group_by is not None else None,
                label=None,
                day=moment.date() if moment is not None else None,
                requests=sums["requests"],
                errors=sums["errors"],
                tokens={bucket: sums[bucket] for bucket in BUCKETS},
                total_tokens=sum(sums[bucket] for bucket in BUCKETS),
                effective_tokens=round(float(values[-1] or 0.0), 1),
                cost_microusd=sums["cost_microusd"],
            )
        )
    if group_by is not None:
        labels = _labels(session, group_by, {row.key for row in rows})
        rows = [replace(row, label=labels.get(row.key)) for row in rows]
    rows.sort(key=lambda row: (-row.cost_microusd, -row.requests, str(row.key)))
    if daily:
        rows.sort(key=lambda row: row.day or date.min)
    return rows
