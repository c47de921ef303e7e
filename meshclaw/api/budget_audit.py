"""The audit records of gateway budgets set or removed, for the API, the budgets page and the CLI."""

from __future__ import annotations

from sqlalchemy.orm import Session

from meshclaw.api.audit_trail import record_admin_action
from meshclaw.context import AppContext
from meshclaw.db.models import Budget
from meshclaw.identity.principal import Principal
from meshclaw.limits.rules import MICROUSD_PER_USD
from meshclaw.limits.store import SubjectRef


def _as_set(unit: str, amount: int) -> float | int:
    """An amount as people set it: USD for `usd`, a count otherwise."""
    return amount / MICROUSD_PER_USD if unit == "usd" else amount


def budget_fields(budget: Budget, subject: SubjectRef) -> dict[str, object]:
    """The budget as people set it."""
    return {
        "subject_type": budget.subject_type,
        "subject_id": budget.subject_id,
        "subject": subject.scope,
        "unit": budget.unit,
        "amount": _as_set(budget.unit, budget.amount),
        "period": budget.period or None,
        "enforcement": budget.enforcement,
    }


def record_budget(
    context: AppContext,
    session: Session,
    principal: Principal | None,
    *,
    kind: str,
    budget: Budget,
    subject: SubjectRef,
    replaced: int | None = None,
) -> None:
    """`admin.budget_set` (created, or its amount replaced: then `replaced_amount` says what it was) or
    `admin.budget_removed`."""
    arguments = budget_fields(budget, subject)
    if replaced is not None:
        arguments["replaced_amount"] = _as_set(budget.unit, replaced)
    record_admin_action(
        context, session, principal, kind=kind, target=f"budget:{budget.id}", arguments=arguments
    )
