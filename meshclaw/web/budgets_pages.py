"""/budgets: budgets and rate limits with where each stands this UTC period; admins add and remove them.

Everyone sees the budgets that apply to them (the same rule as GET /api/v1/budgets). The forms go through
the API's own `set_budget` and `remove_budget`, so validation, messages and audit records are the API's,
and the running limiter is reloaded before the page answers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from meshclaw.api.budgets import (
    BudgetCreate,
    budget_out,
    reload_limiter,
    remove_budget,
    set_budget,
    visible_status,
)
from meshclaw.api.deps import Context
from meshclaw.api.row_ids import RowId
from meshclaw.errors import InvalidInputError, MeshclawError
from meshclaw.identity.authorize import Resource, authorize, is_allowed
from meshclaw.limits.rules import ENFORCEMENTS, SUBJECT_TYPES, UNITS
from meshclaw.web.deps import FormActor, PageViewer, Viewer
from meshclaw.web.render import form_result, render

router = APIRouter(include_in_schema=False)

NOTICES = {"added": "Budget saved; it applies to calls from now on.", "removed": "Budget removed."}
"""Fixed texts picked by a code in the URL, so a crafted link cannot make the page say anything else."""


def _values(context: Context, viewer: Viewer) -> dict[str, Any]:
    rows = [budget_out(status) for status in visible_status(viewer.principal, context)]
    return {
        "budgets": rows,
        "can_manage": is_allowed(viewer.principal, "create", Resource(kind="budget")),
        "subject_types": SUBJECT_TYPES,
        "units": UNITS,
        "enforcements": ENFORCEMENTS,
    }


@router.get("/budgets")
def budgets_page(
    request: Request, viewer: PageViewer, context: Context, notice: str | None = None
) -> Response:
    authorize(viewer.principal, "read", Resource(kind="budget", owner_user_id=viewer.principal.user_id))
    return render(
        request, "budgets.html", form={}, notice=NOTICES.get(notice or ""), **_values(context, viewer)
    )


def _amount(text: str) -> float:
    cleaned = text.strip().replace(",", ".")
    if not cleaned:
        raise InvalidInputError(
            "Amount is required (USD for usd, e.g. 25; a whole number otherwise)", field="amount"
        )
    try:
        return float(cleaned)
    except ValueError:
        raise InvalidInputError(
            f"Amount must be a number, such as 25 or 2.5, not {cleaned[:30]!r}", field="amount"
        ) from None


@router.post("/budgets")
def add_budget(
    request: Request,
    viewer: FormActor,
    context: Context,
    subject_type: Annotated[str, Form()] = "user",
    subject: Annotated[str, Form()] = "",
    unit: Annotated[str, Form()] = "usd",
    amount: Annotated[str, Form()] = "",
    period: Annotated[str, Form()] = "",
    enforcement: Annotated[str, Form()] = "hard",
) -> Response:
    form = {
        "subject_type": subject_type,
        "subject": subject,
        "unit": unit,
        "amount": amount,
        "period": period,
        "enforcement": enforcement,
    }
    notice = error = None
    status = 200
    try:
        if not subject.strip():
            raise InvalidInputError(
                "Whose budget: give an email, team name, key prefix or agent id", field="subject"
            )
        try:
            body = BudgetCreate(
                subject_type=subject_type,
                subject=subject,
                unit=unit,
                amount=_amount(amount),
                period=period or None,
                enforcement=enforcement,
            )
        except ValidationError as exc:
            raise InvalidInputError(str(exc.errors()[0]["msg"])) from None
        saved, _ = set_budget(viewer.principal, context, body)
        reload_limiter(request)
        notice = f"saved for {saved.subject.scope}: {saved.description}"
        form = {}
    except MeshclawError as exc:
        error, status = exc.message, exc.status
    return form_result(
        request,
        page_template="budgets.html",
        panel_template="_budgets_panel.html",
        redirect_to="/budgets?notice=added",
        error=error,
        notice=notice,
        status=status,
        form=form,
        **_values(context, viewer),
    )


@router.post("/budgets/{budget_id}/remove")
def remove_budget_form(request: Request, budget_id: RowId, viewer: FormActor, context: Context) -> Response:
    notice = error = None
    status = 200
    try:
        remove_budget(viewer.principal, context, budget_id)
        reload_limiter(request)
        notice = f"budget {budget_id} removed"
    except MeshclawError as exc:
        error, status = exc.message, exc.status
    return form_result(
        request,
        page_template="budgets.html",
        panel_template="_budgets_panel.html",
        redirect_to="/budgets?notice=removed",
        error=error,
        notice=notice,
        status=status,
        form={},
        **_values(context, viewer),
    )
