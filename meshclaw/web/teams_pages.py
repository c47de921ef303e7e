"""/teams: the team tree, and for those `authorize` lets, creating, renaming, moving and deleting teams.

Every form answers with the `_teams_panel.html` partial for HTMX (the tree re-drawn, with a message), or
the whole page without JavaScript. The rules (unique names, no cycles, no deleting a team with members or
sub-teams) live in `identity.store`; its error messages are shown as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from meshclaw.api.audit_trail import changed_fields
from meshclaw.api.deps import Context
from meshclaw.api.people_audit import record_team, team_fields
from meshclaw.api.row_ids import RowId
from meshclaw.db.models import Team
from meshclaw.errors import ConflictError, InvalidInputError, NotFoundError
from meshclaw.identity import store
from meshclaw.identity.authorize import Resource, authorize, is_allowed
from meshclaw.web.deps import FormActor, PageViewer, Viewer, optional_id
from meshclaw.web.render import form_result, render

router = APIRouter(include_in_schema=False)


@dataclass(kw_only=True)
class TeamNode:
    id: int
    name: str
    parent_id: int | None
    children: list[TeamNode] = field(default_factory=list)


def team_tree(teams: Sequence[Team]) -> list[TeamNode]:
    """Top-level teams with their sub-teams nested, each level sorted by name."""
    nodes = {team.id: TeamNode(id=team.id, name=team.name, parent_id=team.parent_id) for team in teams}
    roots: list[TeamNode] = []
    for node in sorted(nodes.values(), key=lambda n: n.name.lower()):
        parent = nodes.get(node.parent_id) if node.parent_id is not None else None
        (parent.children if parent else roots).append(node)
    return roots


def _panel_values(context: Context, viewer: Viewer) -> dict[str, Any]:
    principal = viewer.principal
    with context.db.session() as session:
        teams = store.list_teams(session, principal.org_id)
        return {
            "tree": team_tree(teams),
            "teams": sorted(teams, key=lambda t: t.name.lower()),
            "can_create": is_allowed(principal, "create", Resource(kind="team")),
            "can_update": is_allowed(principal, "update", Resource(kind="team")),
            "can_delete": is_allowed(principal, "delete", Resource(kind="team")),
            "can_list_people": viewer.nav.people,
        }


def _answer(
    request: Request,
    context: Context,
    viewer: Viewer,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return form_result(
        request,
        page_template="teams.html",
        panel_template="_teams_panel.html",
        redirect_to="/teams",
        notice=notice,
        error=error,
        status=status,
        **_panel_values(context, viewer),
    )


@router.get("/teams")
def teams_page(request: Request, viewer: PageViewer, context: Context) -> Response:
    authorize(viewer.principal, "read", Resource(kind="team"))
    return render(request, "teams.html", **_panel_values(context, viewer))


@router.post("/teams")
def create_team(
    request: Request,
    viewer: FormActor,
    context: Context,
    name: Annotated[str, Form(max_length=200)] = "",
    parent_id: Annotated[str, Form()] = "",
) -> Response:
    authorize(viewer.principal, "create", Resource(kind="team"))
    try:
        with context.db.session() as session:
            team = store.create_team(
                session,
                org_id=viewer.principal.org_id,
                name=name,
                parent_id=optional_id(parent_id, "parent_id"),
                now=context.clock.now(),
            )
            record_team(
                context,
                session,
                viewer.principal,
                kind="admin.team_created",
                team_id=team.id,
                arguments=team_fields(team),
            )
            created = team.name
    except (InvalidInputError, ConflictError, NotFoundError) as exc:
        return _answer(request, context, viewer, error=exc.message, status=exc.status)
    return _answer(request, context, viewer, notice=f"Team '{created}' created.")


@router.post("/teams/{team_id}")
def update_team(
    team_id: RowId,
    request: Request,
    viewer: FormActor,
    context: Context,
    name: Annotated[str, Form(max_length=200)] = "",
    parent_id: Annotated[str, Form()] = "",
) -> Response:
    """Rename and/or move a team; an empty parent makes it top-level."""
    authorize(viewer.principal, "update", Resource(kind="team", id=team_id))
    try:
        with context.db.session() as session:
            team = store.get_team(session, viewer.principal.org_id, team_id)
            before = team_fields(team)
            store.update_team(session, team, name=name, parent_id=optional_id(parent_id, "parent_id"))
            record_team(
                context,
                session,
                viewer.principal,
                kind="admin.team_changed",
                team_id=team.id,
                arguments=changed_fields(before, team_fields(team)),
            )
            saved = team.name
    except (InvalidInputError, ConflictError, NotFoundError) as exc:
        return _answer(request, context, viewer, error=exc.message, status=exc.status)
    return _answer(request, context, viewer, notice=f"Team '{saved}' saved.")


@router.post("/teams/{team_id}/delete")
def delete_team(team_id: RowId, request: Request, viewer: FormActor, context: Context) -> Response:
    authorize(viewer.principal, "delete", Resource(kind="team", id=team_id))
    try:
        with context.db.session() as session:
            team = store.get_team(session, viewer.principal.org_id, team_id)
            deleted, fields = team.name, team_fields(team)
            store.delete_team(session, team)
            record_team(
                context,
                session,
                viewer.principal,
                kind="admin.team_deleted",
                team_id=team_id,
                arguments=fields,
            )
    except (ConflictError, NotFoundError) as exc:
        return _answer(request, context, viewer, error=exc.message, status=exc.status)
    return _answer(request, context, viewer, notice=f"Team '{deleted}' deleted.")
