"""The audit records of gateway budgets set or removed, for the API, the budgets page and the CLI."""

from __future__ import annotations

from sqlalchemy.orm import Session

from meshclaw.api.audit_trail import record_admin_action
from meshclaw.context import AppContext
from meshclaw.db.models import Budget
from meshclaw.identity.principal import Principal
from meshclaw.limits.rules import MICROUSD_PER_USD
from meshclaw.limits.store import SubjectRef


def budget_fields(budget: Budget, subject: SubjectRef) -> dict[str, object]:
    """The budget as people set it: the amount in USD for `usd`, a count otherwise."""
    amount = budget.amount / MICROUSD_PER_USD if budget.unit == "usd" else budget.amount
    return {
        "subject_type": budget.subject_type,
        "subject_id": budget.subject_id,
        "subject": subject.scope,
        "unit": budget.unit,
        "amount": amount,
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
) -> None:
    """`admin.budget_set` (created or its amount replaced) or `admin.budget_removed`."""
    record_admin_action(
        context,
        session,
        principal,
        kind=kind,
        target=f"budget:{budget.id}",
        arguments=budget_fields(budget, subject),
    )
