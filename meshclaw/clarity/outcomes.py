"""Outcomes and value: what AI use achieved, per outcome type, and what each outcome cost.

From the daily outcome and usage rollups. Minutes saved: the minutes a source reported on the event
when it did, otherwise the organization's estimate per outcome type (`ClarityConfig.minutes_saved`)
times the outcomes (for decisions, the accepted ones). Tokens and cost per outcome divide the usage in
the same scope and window by its value units (`measures.py`), so they answer "what did one unit of
achieved work cost", not "what did this type cost" (calls are not attributed to outcome types).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Float, case, cast, func, select
from sqlalchemy.orm import Session

from meshclaw.clarity.config import ClarityConfig
from meshclaw.clarity.costs import everyone_totals
from meshclaw.clarity.freshness import stale_days
from meshclaw.clarity.measures import effective_tokens, total_tokens, value_units
from meshclaw.clarity.ranges import DateRange
from meshclaw.db.models import OutcomeRollup, UsageRollup
from meshclaw.db.models.clarity import ClarityOutcomeDay
from meshclaw.metering.queries import Scope, scope_clause

OutcomeGroupBy = Literal["type", "team", "user", "agent", "source"]
OUTCOME_GROUP_BYS: tuple[OutcomeGroupBy, ...] = ("type", "team", "user", "agent", "source")

CODING_TYPES = {
    "commits": "commit.created",
    "pull_requests": "pull_request.created",
    "lines_added": "lines_of_code.added",
    "lines_removed": "lines_of_code.removed",
    "edit_decisions": "code_edit.decided",
}


@dataclass(frozen=True, kw_only=True)
class OutcomeType:
    type: str
    count: int
    quantity: float
    accepted: int
    rejected: int
    minutes_saved: float

    @property
    def acceptance_rate(self) -> float | None:
        decided = self.accepted + self.rejected
        return round(self.accepted / decided, 4) if decided else None


@dataclass(frozen=True, kw_only=True)
class OutcomeReport:
    types: list[OutcomeType]
    value_units: float
    minutes_saved: float
    total_tokens: int
    effective_tokens: float
    cost_microusd: int
    coding: dict[str, float]
    """Commits, PRs, lines added/removed (lines), edit decisions accepted and rejected."""

    @property
    def tokens_per_outcome(self) -> float | None:
        return round(self.total_tokens / self.value_units, 1) if self.value_units else None

    @property
    def cost_microusd_per_outcome(self) -> float | None:
        return round(self.cost_microusd / self.value_units, 1) if self.value_units else None

    @property
    def outcomes_per_1k_effective_tokens(self) -> float | None:
        return round(self.value_units * 1000 / self.effective_tokens, 4) if self.effective_tokens else None


def unpriced_units() -> ColumnElement[int]:
    """SUM over `outcome_rollups` rows of the outcomes without reported minutes: the units the per-type
    estimate applies to (for decisions, the accepted ones)."""
    o = OutcomeRollup
    return func.sum(
        case(
            (o.minutes_saved > 0, 0),
            (o.accepted + o.rejected > 0, o.accepted),
            else_=o.count,
        )
    )


def outcome_report(
    session: Session,
    scope: Scope,
    window: DateRange,
    config: ClarityConfig,
    *,
    user_id: int | None = None,
    team_id: int | None = None,
    agent_id: int | None = None,
) -> OutcomeReport:
    o, r = OutcomeRollup, UsageRollup
    where = [
        o.bucket == "day",
        o.bucket_start >= window.start,
        o.bucket_start < window.end,
        scope_clause(scope, o.user_id, o.team_id),
    ]
    usage_where = [
        r.bucket == "day",
        r.bucket_start >= window.start,
        r.bucket_start < window.end,
        scope_clause(scope, r.user_id, r.team_id),
    ]
    for column, usage_column, wanted in (
        (o.user_id, r.user_id, user_id),
        (o.team_id, r.team_id, team_id),
        (o.agent_id, r.agent_id, agent_id),
    ):
        if wanted is not None:
            where.append(column == wanted)
            usage_where.append(usage_column == wanted)
    everyone = scope.everyone and user_id is None and team_id is None and agent_id is None
    stale = stale_days(session, window.start, window.end) if everyone else []
    if stale:
        where.append(o.bucket_start.in_(stale))
    by_kind: dict[str, list[Any]] = {}
    value = 0.0
    if everyone:
        # Everyone's outcomes: Clarity's per-day sums for the days they are current for (`freshness.py`).
        d = ClarityOutcomeDay
        summed = [d.dimension == "type", d.day >= window.start, d.day < window.end]
        if stale:
            summed.append(d.day.not_in(stale))
        sums = [func.sum(d.count), func.sum(d.quantity), func.sum(d.accepted), func.sum(d.rejected),
                func.sum(d.minutes_saved), func.sum(d.unpriced), func.sum(d.value_units)]  # fmt: skip
        for record in session.execute(select(d.key, *sums).where(*summed).group_by(d.key)):
            by_kind[record[0]] = list(record[1:-1])
            value += float(record[-1] or 0.0)
    if not everyone or stale:
        query = (
            select(
                o.type,
                func.sum(o.count),
                func.sum(cast(o.quantity, Float)),
                func.sum(o.accepted),
                func.sum(o.rejected),
                func.sum(cast(o.minutes_saved, Float)),
                unpriced_units(),
            )
            .where(*where)
            .group_by(o.type)
        )
        for record in session.execute(query):
            found, values = by_kind.get(record[0]), list[Any](record[1:])
            by_kind[record[0]] = (
                values if found is None else [a + b for a, b in zip(found, values, strict=True)]
            )
        value += float(session.scalar(select(value_units()).where(*where)) or 0.0)
    types: list[OutcomeType] = []
    for kind, (count, quantity, accepted, rejected, reported, units) in by_kind.items():
        types.append(
            OutcomeType(
                type=kind,
                count=int(count),
                quantity=float(quantity),
                accepted=int(accepted),
                rejected=int(rejected),
                minutes_saved=round(float(reported) + int(units) * config.minutes_saved.get(kind, 0.0), 1),
            )
        )
    types.sort(key=lambda item: (-item.count, item.type))
    if everyone or (scope.everyone and user_id is None and team_id is None):
        # Everyone's, or one agent's of everyone's: the usage rollups have no per-agent index, and
        # Clarity's per-day sums have a row per agent.
        cost, tokens, effective = everyone_totals(session, window, agent_id=agent_id)
    else:
        tokens, effective, cost = session.execute(
            select(total_tokens(), effective_tokens(), func.sum(r.cost_microusd)).where(*usage_where)
        ).one()
    by_type = {item.type: item for item in types}

    def quantity_of(kind: str) -> float:
        item = by_type.get(kind)
        return item.quantity if item else 0.0

    edits = by_type.get(CODING_TYPES["edit_decisions"])
    coding = {
        "commits": quantity_of(CODING_TYPES["commits"]),
        "pull_requests": quantity_of(CODING_TYPES["pull_requests"]),
        "lines_added": quantity_of(CODING_TYPES["lines_added"]),
        "lines_removed": quantity_of(CODING_TYPES["lines_removed"]),
        "edits_accepted": float(edits.accepted) if edits else 0.0,
        "edits_rejected": float(edits.rejected) if edits else 0.0,
    }
    return OutcomeReport(
        types=types,
        value_units=round(value, 2),
        minutes_saved=round(sum(item.minutes_saved for item in types), 1),
        total_tokens=int(tokens or 0),
        effective_tokens=round(float(effective or 0.0), 1),
        cost_microusd=int(cost or 0),
        coding=coding,
    )
