"""/api/v1/clarity: adoption, usage and cost, forecast, outcomes and leaderboards, as JSON for charts.

Every chart of the Clarity dashboard reads one of these. Visibility, ranges and the numbers themselves
live in `meshclaw.clarity` (`views.py`); this router only passes query text in and shapes answers out.
Dates are whole UTC days, `until` exclusive; an empty, reversed or over-long range is a 400.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from meshclaw.api.clarity_shapes import (
    AdoptionOut,
    ForecastOut,
    LeaderboardOut,
    OutcomesOut,
    ReactivityOut,
    UsageOut,
    adoption_json,
    forecast_out,
    leaderboard_out,
    outcomes_out,
    reactivity_out,
    usage_json,
)
from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.clarity import views

router = APIRouter(prefix="/clarity", tags=["clarity"])

Since = Annotated[
    str | None, Query(description="First day, ISO 8601 (2026-11-02); default: see each endpoint")
]
Until = Annotated[str | None, Query(description="Day after the last, exclusive; default: tomorrow (UTC)")]
TeamRef = Annotated[str | None, Query(description="A team id or name: that team's aggregates")]
UserRef = Annotated[str | None, Query(description="A user id or email: that person's numbers")]


@router.get("/adoption", response_model=AdoptionOut)
def adoption(
    principal: CurrentPrincipal,
    context: Context,
    since: Since = None,
    until: Until = None,
    team: TeamRef = None,
    user: UserRef = None,
) -> Response:
    """Weekly active people against the goal, cohorts and human vs automation use, per week (default:
    the last 12 weeks). Organization-wide: the organization and teams of 5 or more people."""
    with context.db.session() as session:
        view = views.adoption(
            session,
            principal.org_id,
            principal,
            since=since,
            until=until,
            team=team,
            user=user,
            today=context.clock.now().date(),
        )
    # Serialized directly (`adoption_json`, the `AdoptionOut` document): a group per team and week.
    body = adoption_json(view, one_team=bool(team and team.strip()))
    return Response(content=body, media_type="application/json")


@router.get("/usage", response_model=UsageOut)
def usage(
    principal: CurrentPrincipal,
    context: Context,
    since: Since = None,
    until: Until = None,
    group_by: Annotated[
        str | None, Query(description="team, user, agent, model, client, source or initiator")
    ] = None,
    series: Annotated[bool, Query(description="One row per group and day")] = False,
    team: TeamRef = None,
    user: UserRef = None,
) -> Response:
    """Tokens per bucket, effective tokens and cost from the daily rollups (default: the last 28 days).
    Without a person or team: what the caller's role covers; grouped by team: teams of 5 or more."""
    with context.db.session() as session:
        view = views.usage(
            session,
            principal.org_id,
            principal,
            since=since,
            until=until,
            group_by=group_by,
            daily=series,
            user=user,
            team=team,
            today=context.clock.now().date(),
        )
    # Serialized directly (`usage_json`, the `UsageOut` document): thousands of rows per person.
    return Response(content=usage_json(view), media_type="application/json")


@router.get("/forecast", response_model=ForecastOut)
def forecast(
    principal: CurrentPrincipal,
    context: Context,
    as_of: Annotated[str | None, Query(description="The day to forecast from; default today (UTC)")] = None,
    team: TeamRef = None,
) -> ForecastOut:
    """Month-end cost and tokens at the pace of the last 7 full days."""
    with context.db.session() as session:
        result = views.forecast(
            session, principal.org_id, principal, as_of=as_of, team=team, today=context.clock.now().date()
        )
    return forecast_out(result)


@router.get("/outcomes", response_model=OutcomesOut)
def outcomes(
    principal: CurrentPrincipal,
    context: Context,
    since: Since = None,
    until: Until = None,
    team: TeamRef = None,
    user: UserRef = None,
    agent: Annotated[str | None, Query(description="An agent id")] = None,
) -> OutcomesOut:
    """Outcomes by type, acceptance rates, minutes saved, tokens and cost per outcome, and coding-tool
    commits, PRs, lines and decisions (default: the last 28 days)."""
    with context.db.session() as session:
        window, report = views.outcomes(
            session,
            principal.org_id,
            principal,
            since=since,
            until=until,
            user=user,
            team=team,
            agent=agent,
            today=context.clock.now().date(),
        )
    return outcomes_out(window.since, window.until, report)


@router.get("/leaderboard", response_model=LeaderboardOut)
def leaderboard(
    principal: CurrentPrincipal,
    context: Context,
    since: Since = None,
    until: Until = None,
    team: Annotated[
        str | None, Query(description="A team id or name: its individual board, if an admin turned it on")
    ] = None,
    rank_by: Annotated[
        str, Query(description="outcomes (value units) or yield (per 1,000 effective tokens)")
    ] = "outcomes",
) -> LeaderboardOut:
    """Ranked by outcome-based value, never by tokens. Without a team: teams of 5 or more people."""
    with context.db.session() as session:
        view = views.leaderboard(
            session,
            principal.org_id,
            principal,
            since=since,
            until=until,
            team=team,
            rank_by=rank_by,
            today=context.clock.now().date(),
        )
    return leaderboard_out(view)


@router.get("/reactivity", response_model=list[ReactivityOut])
def reactivity(principal: CurrentPrincipal, context: Context) -> list[ReactivityOut]:
    """Per team with a target or leaderboard (and whose aggregates the caller may see): effective tokens
    and value units per week in the 4 weeks before and after it was introduced, against teams without
    one; `flagged` when tokens rose without outcomes."""
    with context.db.session() as session:
        names, answers = views.reactivity(session, principal.org_id, principal, now=context.clock.now())
    return reactivity_out(names, answers)
