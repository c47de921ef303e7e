"""/org: the organization overview every signed-in person lands on."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from meshclaw.api.deps import Context
from meshclaw.identity import store
from meshclaw.identity.authorize import Resource, authorize, reach
from meshclaw.web.deps import PageViewer
from meshclaw.web.render import render

router = APIRouter(include_in_schema=False)


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
        )
