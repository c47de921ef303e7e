"""/api/v1/budgets: budgets and rate limits per API key, person, team and agent, their status in the
current UTC period, and soft-budget alerts.

Admins set (create or replace) and remove budgets, each change recorded in the audit log
(`admin.budget_set`, `admin.budget_removed`); everyone else reads the budgets that apply to them
(see `budget` in `meshclaw.identity.authorize`). A change applies to the running limiter before the answer
is sent; the CLI's changes reach a running server within 10 seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from meshclaw.api.budget_audit import record_budget
from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.row_ids import RowId
from meshclaw.errors import NotFoundError
from meshclaw.identity.authorize import Resource, authorize, is_allowed
from meshclaw.identity.principal import Principal
from meshclaw.limits import store
from meshclaw.limits.admission import Limiter
from meshclaw.limits.rules import MICROUSD_PER_USD
from meshclaw.limits.status import BudgetStatus, budget_status
from meshclaw.limits.store import SubjectRef

router = APIRouter(prefix="/budgets", tags=["budgets"])


class BudgetOut(BaseModel):
    id: int
    subject_type: str = Field(description="api_key, user, team or agent")
    subject_id: int
    subject: str = Field(description="Whose limit, as messages name it: user ada@example.org, team Platform…")
    unit: str = Field(description="usd, tokens, requests or concurrent")
    period: str | None = Field(description="day, week or month (UTC calendar periods), minute, or null")
    enforcement: str = Field(description="hard (refuses calls) or soft (records an alert)")
    amount: float = Field(description="The limit: USD for unit usd, a count otherwise")
    description: str
    spent: float | None = Field(
        description="Spent in the current period, in the unit of amount; null for rate limits"
    )
    period_start: datetime | None
    resets_at: datetime | None
    reached: bool
    created_at: datetime
    updated_at: datetime


class BudgetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_type: str = Field(description="api_key, user, team or agent")
    subject: str | int = Field(description="user id or email, team id or name, key id or prefix, agent id")
    unit: str = Field(description="usd, tokens, requests or concurrent")
    amount: float = Field(description="USD for usd (e.g. 25.5), a whole number otherwise")
    period: str | None = Field(
        default=None, description="day, week or month for usd and tokens; minute for requests and tokens"
    )
    enforcement: str = Field(default="hard", description="hard (block) or soft (alert once per period)")


class AlertOut(BaseModel):
    id: int
    budget_id: int
    subject_type: str
    subject_id: int
    subject: str
    unit: str
    period: str
    amount: float
    spent: float
    period_start: datetime
    created_at: datetime


def _in_unit(unit: str, raw: int) -> float:
    return raw / MICROUSD_PER_USD if unit == "usd" else float(raw)


def budget_resource(principal: Principal, subject: SubjectRef) -> Resource:
    """A budget belongs to the person it limits, and a team's budget to each member of that team."""
    owner = subject.owner_user_id
    if subject.type == "team" and principal.team_id == subject.id:
        owner = principal.user_id
    return Resource(kind="budget", id=subject.id, owner_user_id=owner, team_id=subject.team_id)


def budget_out(status: BudgetStatus) -> BudgetOut:
    return BudgetOut(
        id=status.budget_id,
        subject_type=status.subject.type,
        subject_id=status.subject.id,
        subject=status.subject.scope,
        unit=status.unit,
        period=status.period or None,
        enforcement=status.enforcement,
        amount=_in_unit(status.unit, status.amount),
        description=status.description,
        spent=None if status.spent is None else _in_unit(status.unit, status.spent),
        period_start=status.period_start,
        resets_at=status.resets_at,
        reached=status.reached,
        created_at=status.created_at,
        updated_at=status.updated_at,
    )


def visible_status(principal: Principal, context: Context) -> list[BudgetStatus]:
    with context.db.session() as session:
        statuses = budget_status(session, now=context.clock.now())
    return [s for s in statuses if is_allowed(principal, "read", budget_resource(principal, s.subject))]


def reload_limiter(request: Request) -> None:
    limiter = getattr(request.app.state, "limiter", None)
    if isinstance(limiter, Limiter):
        limiter.reload()


def set_budget(principal: Principal, context: Context, body: BudgetCreate) -> tuple[BudgetStatus, bool]:
    """Shared by the API and the budgets page: validate, store, and return the stored budget's status."""
    authorize(principal, "create", Resource(kind="budget"))
    now = context.clock.now()
    with context.db.session() as session:
        subject = store.resolve_subject(session, body.subject_type, body.subject)
        budget, replaced = store.set_budget(
            session,
            subject=subject,
            unit=body.unit,
            period=body.period,
            enforcement=body.enforcement,
            amount=store.raw_amount(body.unit, body.amount),
            created_by_user_id=principal.user_id,
            now=now,
        )
        record_budget(
            context,
            session,
            principal,
            kind="admin.budget_set",
            budget=budget,
            subject=subject,
            replaced=replaced,
        )
        status = budget_status(session, now=now, budgets=[budget])[0]
    return status, replaced is None


def remove_budget(principal: Principal, context: Context, budget_id: int) -> None:
    """Shared by the API and the budgets page: check, delete and record the removal."""
    with context.db.session() as session:
        budget = store.find_budget(session, budget_id)
        subject = (
            store.subject_refs(session, [budget])[(budget.subject_type, budget.subject_id)]
            if budget
            else None
        )
        # What the caller may not even see is "not found", so ids reveal nothing.
        if (
            budget is None
            or subject is None
            or not is_allowed(principal, "read", budget_resource(principal, subject))
        ):
            raise NotFoundError(f"budget {budget_id} does not exist")
        authorize(principal, "delete", budget_resource(principal, subject))
        store.delete_budget(session, budget_id)
        record_budget(
            context, session, principal, kind="admin.budget_removed", budget=budget, subject=subject
        )


@router.get("", response_model=list[BudgetOut])
def read_budgets(principal: CurrentPrincipal, context: Context) -> list[BudgetOut]:
    """Budgets and rate limits you may see, with what was spent in the current UTC period."""
    authorize(principal, "read", Resource(kind="budget", owner_user_id=principal.user_id))
    return [budget_out(status) for status in visible_status(principal, context)]


@router.post("", response_model=BudgetOut, status_code=201)
def create_budget(
    body: BudgetCreate, request: Request, response: Response, principal: CurrentPrincipal, context: Context
) -> BudgetOut:
    """Set a budget (admins): creates it, or replaces the amount of the one with the same subject, unit,
    period and enforcement (then answers 200)."""
    status, created = set_budget(principal, context, body)
    reload_limiter(request)
    if not created:
        response.status_code = 200
    return budget_out(status)


@router.delete("/{budget_id}", status_code=204)
def delete_budget(
    budget_id: RowId, request: Request, principal: CurrentPrincipal, context: Context
) -> Response:
    """Remove a budget (admins); calls are no longer limited by it from now on."""
    remove_budget(principal, context, budget_id)
    reload_limiter(request)
    return Response(status_code=204)


@router.get("/alerts", response_model=list[AlertOut])
def read_alerts(
    principal: CurrentPrincipal, context: Context, since: datetime | None = None
) -> list[AlertOut]:
    """Soft budgets crossed, newest first (at most 500): one per budget and period; `since` (ISO 8601,
    UTC when it has no offset) keeps those recorded from then on."""
    authorize(principal, "read", Resource(kind="budget", owner_user_id=principal.user_id))
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # a date or time without offset is UTC, as everywhere in the API
    with context.db.session() as session:
        alerts = store.list_alerts(session, since=since)
        refs = store.subject_refs(session, alerts)
    out = []
    for alert in alerts:
        subject = refs[(alert.subject_type, alert.subject_id)]
        if not is_allowed(principal, "read", budget_resource(principal, subject)):
            continue
        out.append(
            AlertOut(
                id=alert.id,
                budget_id=alert.budget_id,
                subject_type=alert.subject_type,
                subject_id=alert.subject_id,
                subject=subject.scope,
                unit=alert.unit,
                period=alert.period,
                amount=_in_unit(alert.unit, alert.amount),
                spent=_in_unit(alert.unit, alert.spent),
                period_start=alert.period_start,
                created_at=alert.created_at,
            )
        )
    return out
