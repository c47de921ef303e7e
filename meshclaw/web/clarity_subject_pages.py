"""/clarity/teams/<team>, /clarity/people/<person>, /clarity/agents and /clarity/agents/<id>: one
subject's numbers.

Each page resolves its subject through `meshclaw.clarity.access` first, so a reader out of reach gets
the same 403 whether the team or person exists or not, before any number is read. A team page shows
its people only to those who may see them (its managers, auditors, admins) and its individual
leaderboard only where an admin turned it on. A person's patterns to review appear on their page only
for themselves, admins and auditors (never for their manager).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from meshclaw.api.deps import Context
from meshclaw.clarity import access
from meshclaw.clarity.people import load_roster
from meshclaw.clarity.settings_store import team_settings
from meshclaw.identity.authorize import reach
from meshclaw.web import clarity_builders as tables
from meshclaw.web.clarity_builders import Ask
from meshclaw.web.clarity_charts import Chart, series
from meshclaw.web.clarity_page import RangeQuery, show
from meshclaw.web.clarity_pages import forecast
from meshclaw.web.clarity_tables import Table
from meshclaw.web.deps import PageViewer

router = APIRouter(include_in_schema=False)

AgentId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _daily_chart(ask: Ask, chart_id: str, title: str) -> tuple[Table, Chart]:
    daily = tables.usage(ask, None, daily=True)
    chart = series(
        daily,
        chart_id=chart_id,
        title=title,
        x="day",
        ys=[("effective_tokens", "Effective tokens")],
        unit="tokens",
        kind="bar",
        every=ask.window.every_day,
    )
    return daily, chart


def _team(ask: Ask) -> dict[str, Any]:
    assert ask.team is not None
    roster = load_roster(ask.session, ask.principal.org_id)
    found = access.team(ask.session, ask.principal.org_id, ask.team, ask.principal, roster)
    ask = replace(ask, team=str(found.id))
    adoption = tables.adoption(ask)
    daily, daily_chart = _daily_chart(ask, "chart-team-daily", "Effective tokens per day")
    outcome_table, report = tables.outcomes(ask)
    sees_people = access.sees_people_of(ask.principal, found.id)
    board_on = team_settings(ask.session, found.id).leaderboard_enabled
    return {
        "team": found,
        "team_size": roster.team_sizes.get(found.id, 0),
        "adoption": adoption,
        "charts": {
            "active": series(
                adoption.weeks,
                chart_id="chart-team-active",
                title="Share of the team active each week",
                x="week_start",
                ys=[("rate", "Active share")],
                unit="rate",
                goal=("Goal", adoption.goal),
            ),
            "daily": daily_chart,
        },
        "daily": daily,
        "by_model": tables.usage(ask, "model"),
        "outcomes": outcome_table,
        "report": report,
        "people": tables.usage(ask, "user") if sees_people else None,
        "board_on": board_on,
        "leaderboard": tables.leaderboard(ask) if board_on else None,
        **forecast(ask, str(found.id)),
    }


@router.get("/clarity/teams/{team}")
def team_page(
    request: Request,
    team: Annotated[str, Path(max_length=200)],
    viewer: PageViewer,
    context: Context,
    params: RangeQuery,
) -> Response:
    return show(request, viewer, context, params, "clarity/team.html", _team, title="Team", team=team)


def _person(ask: Ask) -> dict[str, Any]:
    assert ask.user is not None
    person = access.person(ask.session, ask.principal.org_id, ask.user, ask.principal)
    ask = replace(ask, user=str(person.id))
    adoption = tables.adoption(ask)
    daily, daily_chart = _daily_chart(ask, "chart-person-daily", "Effective tokens per day")
    outcome_table, report = tables.outcomes(ask)
    own = person.id == ask.principal.user_id
    # Flags go to the person concerned, admins and auditors only: a manager never sees a report's.
    shows_flags = own or reach(ask.principal, "read", "clarity_flag") == "all"
    flags = tables.person_flags(ask, person.id) if shows_flags else None
    return {
        "person": person,
        "own": own,
        "adoption": adoption,
        "charts": {"daily": daily_chart},
        "daily": daily,
        "by_model": tables.usage(ask, "model"),
        "by_client": tables.usage(ask, "client"),
        "outcomes": outcome_table,
        "report": report,
        "flags": flags,
    }


@router.get("/clarity/people/{person}")
def person_page(
    request: Request,
    person: Annotated[str, Path(max_length=320)],
    viewer: PageViewer,
    context: Context,
    params: RangeQuery,
) -> Response:
    return show(request, viewer, context, params, "clarity/person.html", _person, title="Person", user=person)


def _agents(ask: Ask) -> dict[str, Any]:
    return {"agents": tables.usage(ask, "agent")}


@router.get("/clarity/agents")
def agents_page(request: Request, viewer: PageViewer, context: Context, params: RangeQuery) -> Response:
    return show(request, viewer, context, params, "clarity/agents.html", _agents, title="Agents")


def _agent(ask: Ask) -> dict[str, Any]:
    daily, daily_chart = _daily_chart(ask, "chart-agent-daily", "Effective tokens per day")
    outcome_table, report = tables.outcomes(ask)
    return {
        "agent_id": ask.agent,
        "daily": daily,
        "charts": {"daily": daily_chart},
        "outcomes": outcome_table,
        "report": report,
    }


@router.get("/clarity/agents/{agent_id}")
def agent_page(
    request: Request, agent_id: AgentId, viewer: PageViewer, context: Context, params: RangeQuery
) -> Response:
    return show(
        request,
        viewer,
        context,
        params,
        "clarity/agent.html",
        _agent,
        title=f"Agent {agent_id}",
        agent=agent_id,
    )
