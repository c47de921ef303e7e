"""/api/v1/me and /api/v1/users."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.people_audit import PersonState, record_password_set, record_user_added, record_user_change
from meshclaw.api.row_ids import RowId, RowIdField, RowIdQuery
from meshclaw.api.shapes import Page
from meshclaw.db.models import User
from meshclaw.errors import NotFoundError, PermissionDeniedError
from meshclaw.identity import store
from meshclaw.identity.authorize import Resource, authorize, is_allowed, reach
from meshclaw.identity.passwords import hash_password
from meshclaw.identity.principal import Principal, Role
from meshclaw.metering.queries import MAX_ID

router = APIRouter(tags=["users"])


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    role: Role
    team_id: int | None
    manager_id: int | None
    active: bool
    created_at: datetime


class MeOut(UserOut):
    key_scopes: list[str] | None = Field(description="Scopes of the API key used, or null for a web session")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    name: str | None = Field(default=None, max_length=200)
    role: Role = Role.MEMBER
    team_id: RowIdField | None = None
    manager_id: RowIdField | None = None
    password: str | None = Field(
        default=None, max_length=1024, description="Optional; at least 12 characters"
    )


class UserUpdate(BaseModel):
    """Only the fields present are changed; `team_id: null` removes the person from their team."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    team_id: RowIdField | None = None
    manager_id: RowIdField | None = None
    active: bool | None = None
    password: str | None = Field(default=None, max_length=1024)


def user_resource(user: User) -> Resource:
    return Resource(kind="user", id=user.id, owner_user_id=user.id, team_id=user.team_id)


@router.get("/me", response_model=MeOut)
def read_me(principal: CurrentPrincipal, context: Context) -> MeOut:
    authorize(
        principal,
        "read",
        Resource(
            kind="user", id=principal.user_id, owner_user_id=principal.user_id, team_id=principal.team_id
        ),
    )
    with context.db.session() as session:
        user = store.get_user(session, principal.org_id, principal.user_id)
        scopes = sorted(principal.key_scopes) if principal.key_scopes is not None else None
        return MeOut.model_validate({**UserOut.model_validate(user).model_dump(), "key_scopes": scopes})


@router.get("/users", response_model=Page[UserOut])
def list_users(
    principal: CurrentPrincipal,
    context: Context,
    team_id: RowIdQuery | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> Page[UserOut]:
    granted = reach(principal, "read", "user")
    if granted is None:
        raise PermissionDeniedError("your role does not allow listing users")
    with context.db.session() as session:
        users, total = store.list_users(
            session, principal, granted, team_id=team_id, limit=limit, offset=offset
        )
        return Page[UserOut](
            items=[UserOut.model_validate(u) for u in users], total=total, limit=limit, offset=offset
        )


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, principal: CurrentPrincipal, context: Context) -> UserOut:
    authorize(principal, "create", Resource(kind="user", team_id=body.team_id))
    with context.db.session() as session:
        user = store.create_user(
            session,
            org_id=principal.org_id,
            email=body.email,
            name=body.name,
            role=body.role,
            team_id=body.team_id,
            manager_id=body.manager_id,
            password_hash=hash_password(body.password) if body.password else None,
            now=context.clock.now(),
        )
        record_user_added(context, session, principal, user)
        return UserOut.model_validate(user)


@router.get("/users/{user_id}", response_model=UserOut)
def read_user(user_id: RowId, principal: CurrentPrincipal, context: Context) -> UserOut:
    with context.db.session() as session:
        user = _visible_user(session, principal, user_id)
        return UserOut.model_validate(user)


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(user_id: RowId, body: UserUpdate, principal: CurrentPrincipal, context: Context) -> UserOut:
    changes = body.model_dump(exclude_unset=True)
    with context.db.session() as session:
        user = _visible_user(session, principal, user_id)
        privileged = {"role", "team_id", "manager_id", "active"} & changes.keys()
        authorize(principal, "manage" if privileged else "update", user_resource(user))
        password = changes.pop("password", None)
        kwargs = {k: v for k, v in changes.items() if k in {"team_id", "manager_id"}}
        before = PersonState.of(user)
        store.update_user(
            session,
            user,
            name=changes.get("name"),
            role=changes.get("role"),
            active=changes.get("active"),
            password_hash=hash_password(password) if password else None,
            **kwargs,
        )
        record_user_change(context, session, principal, user=user, before=before)
        if password:
            record_password_set(context, session, principal, user=user)
        return UserOut.model_validate(user)


def _visible_user(session: Session, principal: Principal, user_id: int) -> User:
    """Load a user, answering 404 (not 403) for people the principal may not see, so ids leak nothing."""
    try:
        user = store.get_user(session, principal.org_id, user_id)
    except NotFoundError:
        raise NotFoundError(f"user {user_id} does not exist or is not visible to you") from None
    if not is_allowed(principal, "read", user_resource(user)):
        raise NotFoundError(f"user {user_id} does not exist or is not visible to you")
    return user
