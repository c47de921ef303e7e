"""/clarity: the organization overview and the models and cost page.

The overview shows organization-wide numbers as Clarity allows them for everyone: the organization's
adoption against the goal, and aggregates of teams with 5 or more people (usage and cost by team, the
team leaderboard). Outcomes, the month-end forecast and budgets cover what the reader's role covers
(their own use, their teams', or everyone's), and the captions say which.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from meshclaw.api.clarity_shapes import forecast_out
from meshclaw.api.deps import Context
from meshclaw.clarity import views
from meshclaw.web import clarity_builders as tables
from meshclaw.web.clarity_builders import Ask
from meshclaw.web.clarity_charts import pivot, series
from meshclaw.web.clarity_page import RangeQuery, scope_words, show
from meshclaw.web.deps import PageViewer

router = APIRouter(include_in_schema=False)


def forecast(ask: Ask, team: str | None = None) -> dict[str, Any]:
    result = views.forecast(
        ask.session, ask.principal.org_id, ask.principal, as_of=None, team=team, today=ask.today
    )
    link = "/api/v1/clarity/forecast" + (f"?team={team}" if team else "")
    return {"forecast": forecast_out(result), "forecast_api": link}


def _overview(ask: Ask) -> dict[str, Any]:
    adoption = tables.adoption(ask)
    by_team = tables.usage(ask, "team")
    outcome_table, report = tables.outcomes(ask)
    weeks = adoption.weeks
    # The headline is the last whole week of the range: a week still under way (two days of five)
    # would read as a collapse in adoption every Monday.
    complete = [
        row for row in weeks.rows if isinstance(row[0], date) and row[0] + timedelta(days=7) <= ask.today
    ]
    last = complete[-1] if complete else (weeks.rows[-1] if weeks.rows else None)
    return {
        "adoption": adoption,
        "last_week": last,
        "last_week_partial": bool(last) and not complete,
        "charts": {
            "active": series(
                weeks,
                chart_id="chart-active",
                title="Share of people active each week",
                x="week_start",
                ys=[("rate", "Active share")],
                unit="rate",
                goal=("Goal", adoption.goal),
            ),
            "cohorts": series(
                weeks,
                chart_id="chart-cohorts",
                title="People by how much they used AI each week",
                x="week_start",
                ys=[(f"cohort_{name}", label) for name, label in tables.COHORT_LABELS.items()],
                unit="count",
                kind="bar",
                stacked=True,
            ),
            "human": series(
                weeks,
                chart_id="chart-human",
                title="Tokens started by people and by automation, per week",
                x="week_start",
                ys=[("human_tokens", "Started by people"), ("automation_tokens", "Automation")],
                unit="tokens",
                kind="bar",
                stacked=True,
            ),
            "teams": series(
                by_team,
                chart_id="chart-teams",
                title="Cost by team",
                x="team",
                ys=[("cost_usd", "Cost")],
                unit="usd",
                kind="bar",
            ),
        },
        "by_team": by_team,
        "outcomes": outcome_table,
        "report": report,
        "leaderboard": tables.leaderboard(ask),
        "budgets": tables.budgets(ask),
        "scope": scope_words(ask),
        **forecast(ask),
    }


@router.get("/clarity")
def overview(request: Request, viewer: PageViewer, context: Context, params: RangeQuery) -> Response:
    return show(request, viewer, context, params, "clarity/overview.html", _overview, title="Clarity")


def _models(ask: Ask) -> dict[str, Any]:
    daily = tables.usage(ask, "model", daily=True)
    by_model = tables.usage(ask, "model")
    return {
        "by_model": by_model,
        "daily": daily,
        "breakdowns": [tables.usage(ask, group) for group in ("client", "source", "initiator")],
        "charts": {
            "daily": pivot(
                daily,
                chart_id="chart-model-daily",
                title="Cost per day by model",
                x="day",
                group="model",
                value="cost_usd",
                unit="usd",
                every=ask.window.every_day,
            ),
            "models": series(
                by_model,
                chart_id="chart-models",
                title="Effective tokens by model",
                x="model",
                ys=[("effective_tokens", "Effective tokens")],
                unit="tokens",
                kind="bar",
            ),
        },
        "budgets": tables.budgets(ask),
        "scope": scope_words(ask),
        **forecast(ask),
    }


@router.get("/clarity/models")
def models(request: Request, viewer: PageViewer, context: Context, params: RangeQuery) -> Response:
    return show(request, viewer, context, params, "clarity/models.html", _models, title="Models and cost")


@router.get("/clarity/me")
def me(request: Request, viewer: PageViewer) -> Response:
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/clarity/people/{viewer.principal.user_id}{query}", status_code=303)
