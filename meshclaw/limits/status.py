"""Where each budget stands in its current UTC period: spent versus limit and when it resets.

Read from the database (the day rollups; API keys from their usage events), so it answers the same in
every process and for the CLI; it lags a running limiter by the recorder's batch interval (50 ms) and
does not include calls still in flight. Rate and concurrency limits have no period spend to show.
Clarity, the API, the CLI and the budgets page all call `budget_status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from meshclaw.db.models import Budget
from meshclaw.limits import store
from meshclaw.limits.counters import CounterKey
from meshclaw.limits.periods import period_bounds
from meshclaw.limits.rules import Enforcement, Period, Unit, describe
from meshclaw.limits.spend import load_spend
from meshclaw.limits.store import SubjectRef


@dataclass(frozen=True, kw_only=True)
class BudgetStatus:
    budget_id: int
    subject: SubjectRef
    unit: Unit
    period: Period
    enforcement: Enforcement
    amount: int
    """The limit: micro-USD for `usd`, a count otherwise."""
    spent: int | None
    """Spent in the current period (same unit as `amount`); None for rate and concurrency limits."""
    period_start: datetime | None
    resets_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def description(self) -> str:
        return describe(self.unit, self.period, self.amount, enforcement=self.enforcement)

    @property
    def used_share(self) -> float | None:
        """Spent / limit (1.0 = reached), for bars and sorting."""
        return None if self.spent is None else self.spent / self.amount

    @property
    def reached(self) -> bool:
        return self.spent is not None and self.spent >= self.amount


def budget_status(
    session: Session, *, now: datetime, budgets: list[Budget] | None = None
) -> list[BudgetStatus]:
    """Every budget (or the given ones) with its spend in the period containing `now`."""
    rows = store.list_budgets(session) if budgets is None else budgets
    refs = store.subject_refs(session, rows)
    keys: list[CounterKey] = [
        (b.subject_type, b.subject_id, b.unit, b.period)  # type: ignore[misc]
        for b in rows
        if b.period in ("day", "week", "month")
    ]
    spend = load_spend(session, keys, now)
    out = []
    for b in rows:
        loaded = spend.get((b.subject_type, b.subject_id, b.unit, b.period))  # type: ignore[arg-type]
        bounds = period_bounds(b.period, now) if b.period in ("day", "week", "month") else None  # type: ignore[arg-type]
        out.append(
            BudgetStatus(
                budget_id=b.id,
                subject=refs[(b.subject_type, b.subject_id)],
                unit=b.unit,  # type: ignore[arg-type]
                period=b.period,  # type: ignore[arg-type]
                enforcement=b.enforcement,  # type: ignore[arg-type]
                amount=b.amount,
                spent=loaded[1] if loaded else None,
                period_start=bounds[0] if bounds else None,
                resets_at=bounds[1] if bounds else None,
                created_at=b.created_at,
                updated_at=b.updated_at,
            )
        )
    return out
