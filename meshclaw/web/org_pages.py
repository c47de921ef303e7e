"""/org: the organization overview every signed-in person lands on: who they are, what waits for their
decision, their agents and their own model use this week."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from meshclaw.agents.store import list_agents
from meshclaw.api.deps import Context
from meshclaw.identity import store
from meshclaw.identity.authorize import Resource, authorize, reach
from meshclaw.identity.principal import Principal
from meshclaw.metering.summary import Measures, summarize
from meshclaw.web.deps import PageViewer
from meshclaw.web.render import render
from meshclaw.web.usage_pages import own_days

router = APIRouter(include_in_schema=False)

USAGE_DAYS = 7
"""The overview's usage card: the last week, today included (UTC days, as the usage page counts)."""


def _my_week(session: Session, principal: Principal, today: datetime) -> Measures:
    """The viewer's own model use over the last `USAGE_DAYS` days, from the rollups."""
    mine, filters = own_days(principal.user_id, today.date(), USAGE_DAYS)
    return summarize(session, mine, filters, group_by=None).totals


@router.get("/org")
def overview(request: Request, viewer: PageViewer, context: Context) -> Response:
    principal = viewer.principal
    authorize(principal, "read", Resource(kind="organization"))
    with context.db.session() as session:
        org = store.get_org(session)
        me = store.get_user(session, principal.org_id, principal.user_id)
        teams = {team.id: team.name for team in store.list_teams(session, principal.org_id)}
        manager = store.get_user(session, principal.org_id, me.manager_id) if me.manager_id else None
        people_reach = reach(principal, "read", "user")
        people_count = (
            store.list_users(session, principal, people_reach, limit=1)[1] if people_reach else None
        )
        keys = store.list_keys(session, principal.org_id, owner_user_id=principal.user_id)
        live_keys = sum(1 for key in keys if key.revoked_at is None)
        agents = (
            list_agents(session, principal.org_id, owner_user_ids=[principal.user_id])
            if viewer.nav.agents
            else []
        )
        week = _my_week(session, principal, context.clock.now()) if viewer.nav.usage else None
        return render(
            request,
            "org.html",
            org=org,
            me=me,
            team_name=teams.get(me.team_id) if me.team_id else None,
            manager=manager,
            team_count=len(teams),
            people_count=people_count,
            live_keys=live_keys,
            agents=agents,
            enabled_agents=sum(1 for agent in agents if agent.enabled),
            week=week,
            usage_days=USAGE_DAYS,
        )
