"""/api/v1/teams: the team tree."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from meshclaw.api.audit_trail import changed_fields
from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.people_audit import record_team, team_fields
from meshclaw.api.row_ids import RowId, RowIdField
from meshclaw.identity import store
from meshclaw.identity.authorize import Resource, authorize

router = APIRouter(prefix="/teams", tags=["teams"])


class TeamOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    parent_id: int | None
    created_at: datetime


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    parent_id: RowIdField | None = None


class TeamUpdate(BaseModel):
    """Only the fields present are changed; `parent_id: null` makes the team top-level."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    parent_id: RowIdField | None = None


@router.get("", response_model=list[TeamOut])
def list_teams(principal: CurrentPrincipal, context: Context) -> list[TeamOut]:
    authorize(principal, "read", Resource(kind="team"))
    with context.db.session() as session:
        return [TeamOut.model_validate(t) for t in store.list_teams(session, principal.org_id)]


@router.post("", response_model=TeamOut, status_code=201)
def create_team(body: TeamCreate, principal: CurrentPrincipal, context: Context) -> TeamOut:
    authorize(principal, "create", Resource(kind="team"))
    with context.db.session() as session:
        team = store.create_team(
            session,
            org_id=principal.org_id,
            name=body.name,
            parent_id=body.parent_id,
            now=context.clock.now(),
        )
        record_team(
            context,
            session,
            principal,
            kind="admin.team_created",
            team_id=team.id,
            arguments=team_fields(team),
        )
        return TeamOut.model_validate(team)


@router.get("/{team_id}", response_model=TeamOut)
def read_team(team_id: RowId, principal: CurrentPrincipal, context: Context) -> TeamOut:
    authorize(principal, "read", Resource(kind="team", id=team_id))
    with context.db.session() as session:
        return TeamOut.model_validate(store.get_team(session, principal.org_id, team_id))


@router.patch("/{team_id}", response_model=TeamOut)
def update_team(team_id: RowId, body: TeamUpdate, principal: CurrentPrincipal, context: Context) -> TeamOut:
    authorize(principal, "update", Resource(kind="team", id=team_id))
    changes = body.model_dump(exclude_unset=True)
    with context.db.session() as session:
        team = store.get_team(session, principal.org_id, team_id)
        parent = {"parent_id": changes["parent_id"]} if "parent_id" in changes else {}
        before = team_fields(team)
        store.update_team(session, team, name=changes.get("name"), **parent)
        record_team(
            context,
            session,
            principal,
            kind="admin.team_changed",
            team_id=team.id,
            arguments=changed_fields(before, team_fields(team)),
        )
        return TeamOut.model_validate(team)


@router.delete("/{team_id}", status_code=204)
def delete_team(team_id: RowId, principal: CurrentPrincipal, context: Context) -> Response:
    authorize(principal, "delete", Resource(kind="team", id=team_id))
    with context.db.session() as session:
        team = store.get_team(session, principal.org_id, team_id)
        deleted = team_fields(team)
        store.delete_team(session, team)
        record_team(
            context, session, principal, kind="admin.team_deleted", team_id=team_id, arguments=deleted
        )
    return Response(status_code=204)
