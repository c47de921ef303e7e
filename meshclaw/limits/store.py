"""The SQL of limits: budgets (list, set, delete), the names of their subjects, and soft-budget alerts.

Subjects are referred to as people type them: a user by id or email, a team by id or name, an API key
by id or prefix, an agent by id (agents have no table yet, so any positive id is accepted). Identity's
tables are read directly (limits may not import `meshclaw.identity`: the core packages are independent).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meshclaw.db.models import ApiKey, Budget, BudgetAlert, Team, User
from meshclaw.errors import ConflictError, InvalidInputError, NotFoundError
from meshclaw.limits.alerts import SoftAlert
from meshclaw.limits.rules import (
    ALLOWED_PERIODS,
    ENFORCEMENTS,
    MICROUSD_PER_USD,
    SUBJECT_TYPES,
    UNITS,
    Enforcement,
    Period,
    Rule,
    SubjectType,
    Unit,
    is_rate_limit,
    scope_label,
)

MAX_AMOUNT = 10**15
"""Far above any real budget (a billion USD in micro-USD), far below BIGINT: a typo, not a budget."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SubjectRef:
    type: SubjectType
    id: int
    name: str | None
    """Email, team name, key name; None for agents."""
    owner_user_id: int | None
    """The person the subject belongs to: the user, the key's owner; None for teams and agents."""
    team_id: int | None
    """The team it belongs to: the team itself, the user's (or key owner's) team."""

    @property
    def scope(self) -> str:
        return scope_label(self.type, self.id, self.name)


def _as_id(ref: str) -> int | None:
    text = ref.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def resolve_subject(session: Session, subject_type: str, ref: str | int) -> SubjectRef:
    """The subject named by `ref`; `InvalidInputError` (field `subject`) when there is none."""
    if subject_type not in SUBJECT_TYPES:
        raise InvalidInputError(
            f"unknown subject type {subject_type!r}; use one of {', '.join(SUBJECT_TYPES)}",
            field="subject_type",
        )
    text = str(ref).strip()
    ident = _as_id(text)
    if subject_type == "user":
        user = (
            session.get(User, ident)
            if ident is not None
            else session.scalars(select(User).where(User.email == text.lower())).first()
        )
        if user is None:
            raise InvalidInputError(f"no user {text!r}; give a user id or email", field="subject")
        return SubjectRef(
            type="user", id=user.id, name=user.email, owner_user_id=user.id, team_id=user.team_id
        )
    if subject_type == "team":
        team = (
            session.get(Team, ident)
            if ident is not None
            else session.scalars(select(Team).where(Team.name == text)).first()
        )
        if team is None:
            raise InvalidInputError(f"no team {text!r}; give a team id or name", field="subject")
        return SubjectRef(type="team", id=team.id, name=team.name, owner_user_id=None, team_id=team.id)
    if subject_type == "api_key":
        key = (
            session.get(ApiKey, ident)
            if ident is not None
            else session.scalars(select(ApiKey).where(ApiKey.prefix == text)).first()
        )
        if key is None:
            raise InvalidInputError(f"no API key {text!r}; give a key id or prefix", field="subject")
        owner = session.get(User, key.owner_user_id) if key.owner_user_id is not None else None
        return SubjectRef(
            type="api_key",
            id=key.id,
            name=key.name,
            owner_user_id=key.owner_user_id,
            team_id=owner.team_id if owner else None,
        )
    if ident is None or ident <= 0:
        raise InvalidInputError(f"agent {text!r} is not an agent id (a positive number)", field="subject")
    return SubjectRef(type="agent", id=ident, name=None, owner_user_id=None, team_id=None)


class NamesSubject(Protocol):
    @property
    def subject_type(self) -> str: ...

    @property
    def subject_id(self) -> int: ...


def subject_refs(session: Session, budgets: Iterable[NamesSubject]) -> dict[tuple[str, int], SubjectRef]:
    """Names and owners of every subject the budgets (or alerts) name, in a few queries, not one per row."""
    wanted: dict[str, set[int]] = {kind: set() for kind in SUBJECT_TYPES}
    for budget in budgets:
        wanted.setdefault(budget.subject_type, set()).add(budget.subject_id)
    refs: dict[tuple[str, int], SubjectRef] = {}
    users: dict[int, User] = {}
    keys = (
        session.scalars(select(ApiKey).where(ApiKey.id.in_(wanted["api_key"]))).all()
        if wanted["api_key"]
        else []
    )
    user_ids = wanted["user"] | {key.owner_user_id for key in keys if key.owner_user_id is not None}
    if user_ids:
        users = {user.id: user for user in session.scalars(select(User).where(User.id.in_(user_ids)))}
    for user_id in wanted["user"]:
        user = users.get(user_id)
        refs[("user", user_id)] = SubjectRef(
            type="user",
            id=user_id,
            name=user.email if user else None,
            owner_user_id=user_id,
            team_id=user.team_id if user else None,
        )
    for key in keys:
        owner = users.get(key.owner_user_id) if key.owner_user_id is not None else None
        refs[("api_key", key.id)] = SubjectRef(
            type="api_key",
            id=key.id,
            name=key.name,
            owner_user_id=key.owner_user_id,
            team_id=owner.team_id if owner else None,
        )
    if wanted["team"]:
        for team in session.scalars(select(Team).where(Team.id.in_(wanted["team"]))):
            refs[("team", team.id)] = SubjectRef(
                type="team", id=team.id, name=team.name, owner_user_id=None, team_id=team.id
            )
    for kind, ids in wanted.items():
        for ident in ids:
            refs.setdefault(
                (kind, ident),
                SubjectRef(type=kind, id=ident, name=None, owner_user_id=None, team_id=None),  # type: ignore[arg-type]
            )
    return refs


# --- budgets --------------------------------------------------------------------------------------


def validate(
    unit: str, period: str | None, enforcement: str, amount: int
) -> tuple[Unit, Period, Enforcement]:
    """Check a budget's shape; each error names the field to fix."""
    if unit not in UNITS:
        raise InvalidInputError(f"unknown unit {unit!r}; use one of {', '.join(UNITS)}", field="unit")
    allowed = ALLOWED_PERIODS[unit]
    chosen = "" if period is None else period
    if chosen not in allowed:
        names = ", ".join(p for p in allowed if p) or "none (leave it out)"
        raise InvalidInputError(
            f"unknown period {period!r} for {unit}; use {names}"
            + (" (UTC calendar periods)" if "day" in allowed else ""),
            field="period",
        )
    if enforcement not in ENFORCEMENTS:
        raise InvalidInputError(
            f"unknown enforcement {enforcement!r}; use hard (block) or soft (alert)", field="enforcement"
        )
    if enforcement == "soft" and is_rate_limit(unit, chosen):
        raise InvalidInputError(
            "rate and concurrency limits are always hard; soft (alerting) budgets are per day, week or month",
            field="enforcement",
        )
    if amount <= 0:
        raise InvalidInputError("amount must be greater than 0", field="amount")
    if amount > MAX_AMOUNT:
        raise InvalidInputError("amount is implausibly large", field="amount")
    return unit, chosen, enforcement


def raw_amount(unit: str, amount: float) -> int:
    """An amount as people give it (USD for `usd`, e.g. 2.5) as the table keeps it (micro-USD; counts)."""
    if amount != amount or amount in (float("inf"), float("-inf")):
        raise InvalidInputError("amount must be a finite number", field="amount")
    if amount <= 0:
        raise InvalidInputError(f"amount must be greater than 0, not {amount:g}", field="amount")
    if unit == "usd":
        return round(amount * MICROUSD_PER_USD)
    if amount != int(amount):
        raise InvalidInputError(f"amount must be a whole number of {unit}, not {amount:g}", field="amount")
    return int(amount)


def set_budget(
    session: Session,
    *,
    subject: SubjectRef,
    unit: str,
    period: str | None,
    enforcement: str,
    amount: int,
    created_by_user_id: int | None,
    now: datetime,
) -> tuple[Budget, int | None]:
    """Create the budget, or replace the amount of the one with the same subject, unit, period and
    enforcement. Returns it and the amount it replaced (None: the budget is new)."""
    unit_, period_, enforcement_ = validate(unit, period, enforcement, amount)
    existing = session.scalars(
        select(Budget).where(
            Budget.subject_type == subject.type,
            Budget.subject_id == subject.id,
            Budget.unit == unit_,
            Budget.period == period_,
            Budget.enforcement == enforcement_,
        )
    ).first()
    if existing is not None:
        replaced = existing.amount
        existing.amount = amount
        existing.updated_at = now
        session.flush()
        return existing, replaced
    budget = Budget(
        subject_type=subject.type,
        subject_id=subject.id,
        unit=unit_,
        period=period_,
        enforcement=enforcement_,
        amount=amount,
        created_by_user_id=created_by_user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(budget)
    try:
        session.flush()
    except IntegrityError:  # the same budget created by someone else a moment ago
        raise ConflictError(
            "this budget was just created by another request; send it again to replace its amount"
        ) from None
    return budget, None


def list_budgets(session: Session) -> list[Budget]:
    return list(
        session.scalars(
            select(Budget).order_by(
                Budget.subject_type, Budget.subject_id, Budget.unit, Budget.period, Budget.id
            )
        )
    )


def find_budget(session: Session, budget_id: int) -> Budget | None:
    return session.get(Budget, budget_id)


def get_budget(session: Session, budget_id: int) -> Budget:
    budget = find_budget(session, budget_id)
    if budget is None:
        raise NotFoundError(f"budget {budget_id} does not exist")
    return budget


def delete_budget(session: Session, budget_id: int) -> Budget:
    budget = get_budget(session, budget_id)
    session.delete(budget)
    session.flush()
    return budget


def load_rules(session: Session) -> list[Rule]:
    budgets = list_budgets(session)
    refs = subject_refs(session, budgets)
    return [
        Rule(
            id=b.id,
            subject_type=b.subject_type,  # type: ignore[arg-type]
            subject_id=b.subject_id,
            unit=b.unit,  # type: ignore[arg-type]
            period=b.period,  # type: ignore[arg-type]
            enforcement=b.enforcement,  # type: ignore[arg-type]
            amount=b.amount,
            scope=refs[(b.subject_type, b.subject_id)].scope,
        )
        for b in budgets
    ]


# --- alerts ---------------------------------------------------------------------------------------


def alerted_since(session: Session, since: datetime) -> set[tuple[int, datetime]]:
    """(budget id, period start) of the alerts of periods starting at or after `since`."""
    rows = session.execute(
        select(BudgetAlert.budget_id, BudgetAlert.period_start).where(BudgetAlert.period_start >= since)
    )
    return {(budget_id, start) for budget_id, start in rows}


def store_alert(session: Session, alert: SoftAlert) -> bool:
    """Insert the alert unless its budget and period already have one (another process, a restart);
    True when this call stored it. A savepoint keeps a duplicate from spoiling the transaction."""
    rule = alert.rule
    try:
        with session.begin_nested():
            session.add(
                BudgetAlert(
                    budget_id=rule.id,
                    subject_type=rule.subject_type,
                    subject_id=rule.subject_id,
                    unit=rule.unit,
                    period=rule.period,
                    amount=rule.amount,
                    spent=alert.spent,
                    period_start=alert.period_start,
                    created_at=alert.noticed_at,
                )
            )
    except IntegrityError:
        return False
    return True


def list_alerts(session: Session, *, since: datetime | None = None, limit: int = 500) -> list[BudgetAlert]:
    query = select(BudgetAlert).order_by(BudgetAlert.created_at.desc(), BudgetAlert.id.desc()).limit(limit)
    if since is not None:
        query = query.where(BudgetAlert.created_at >= since)
    return list(session.scalars(query))
