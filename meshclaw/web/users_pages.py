"""/users: the people directory (paginated, filtered by team), adding a person, and each person's page
(change role, team and manager; deactivate or reactivate).

What a viewer may see and do comes from `authorize`: the list is limited by `reach(…, "read", "user")`,
each person page by `authorize(…, "read", …)`, and changes by `authorize(…, "manage"|"create", …)`.
A person page someone may not see answers 403 whether or not the person exists, so ids leak nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from meshclaw.api.deps import Context
from meshclaw.api.people_audit import PersonState, record_user_added, record_user_change
from meshclaw.api.row_ids import RowId
from meshclaw.api.users import user_resource
from meshclaw.db.models import User
from meshclaw.errors import MeshclawError, NotFoundError, PermissionDeniedError
from meshclaw.identity import store
from meshclaw.identity.authorize import Resource, authorize, is_allowed, reach
from meshclaw.identity.passwords import hash_password
from meshclaw.identity.principal import Principal, Role
from meshclaw.web.deps import FormActor, PageViewer, Viewer, optional_id
from meshclaw.web.render import form_result, is_htmx, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 25
ROLES = [role.value for role in Role]


def _names(session: Session, org_id: int, user_ids: set[int]) -> dict[int, str]:
    return {uid: store.get_user(session, org_id, uid).name for uid in user_ids}


def _list_values(session: Session, principal: Principal, *, team_id: int | None, page: int) -> dict[str, Any]:
    granted = reach(principal, "read", "user")
    if granted not in ("all", "team"):
        raise PermissionDeniedError(
            "your role does not allow listing people; your own profile is at /account"
        )
    teams = sorted(store.list_teams(session, principal.org_id), key=lambda t: t.name.lower())
    users, total = store.list_users(
        session, principal, granted, team_id=team_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    managers = _names(session, principal.org_id, {u.manager_id for u in users if u.manager_id})
    return {
        "users": users,
        "total": total,
        "page": page,
        "pages": max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
        "team_id": team_id,
        "teams": teams,
        "team_names": {t.id: t.name for t in teams},
        "manager_names": managers,
        "roles": ROLES,
        "can_create": is_allowed(principal, "create", Resource(kind="user")),
        "form": {},
    }


@router.get("/users")
def users_page(
    request: Request,
    viewer: PageViewer,
    context: Context,
    team_id: Annotated[str, Query()] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    with context.db.session() as session:
        values = _list_values(session, viewer.principal, team_id=optional_id(team_id, "team_id"), page=page)
    return render(request, "_users_panel.html" if is_htmx(request) else "users.html", **values)


@router.post("/users")
def add_user(
    request: Request,
    viewer: FormActor,
    context: Context,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "member",
    team_id: Annotated[str, Form()] = "",
    manager_email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    principal = viewer.principal
    form = {"email": email, "name": name, "role": role, "team_id": team_id, "manager_email": manager_email}
    error: MeshclawError | None = None
    added = ""
    try:
        team = optional_id(team_id, "team_id")
        authorize(principal, "create", Resource(kind="user", team_id=team))
        with context.db.session() as session:
            user = store.create_user(
                session,
                org_id=principal.org_id,
                email=email,
                name=name or None,
                role=store.parse_role(role),
                team_id=team,
                manager_id=_manager_id(session, principal.org_id, manager_email),
                password_hash=hash_password(password) if password else None,
                now=context.clock.now(),
            )
            record_user_added(context, session, principal, user)
            added = user.email
    except PermissionDeniedError:
        raise
    except MeshclawError as exc:
        error = exc
    with context.db.session() as session:
        values = _list_values(session, principal, team_id=None, page=1)
    if error is not None:
        values["form"] = form
        return form_result(
            request,
            page_template="users.html",
            panel_template="_users_panel.html",
            redirect_to="/users",
            error=error.message,
            status=error.status,
            **values,
        )
    return form_result(
        request,
        page_template="users.html",
        panel_template="_users_panel.html",
        redirect_to="/users",
        notice=f"Added {added}.",
        **values,
    )


def _manager_id(session: Session, org_id: int, manager_email: str) -> int | None:
    if not manager_email.strip():
        return None
    manager = store.user_by_email(session, org_id, manager_email)
    if manager is None:
        raise NotFoundError(f"no person with email {manager_email.strip()}", field="manager_email")
    return manager.id


def _visible_user(session: Session, principal: Principal, user_id: int) -> User:
    """The person, or 403 for anyone the viewer may not see (existing or not: nothing to probe)."""
    try:
        user = store.get_user(session, principal.org_id, user_id)
    except NotFoundError:
        if reach(principal, "read", "user") == "all":
            raise
        raise PermissionDeniedError("your role does not allow viewing this person") from None
    authorize(principal, "read", user_resource(user))
    return user


def _person_values(session: Session, viewer: Viewer, user: User) -> dict[str, Any]:
    principal = viewer.principal
    teams = sorted(store.list_teams(session, principal.org_id), key=lambda t: t.name.lower())
    manager = store.get_user(session, principal.org_id, user.manager_id) if user.manager_id else None
    return {
        "person": user,
        "teams": teams,
        "team_names": {t.id: t.name for t in teams},
        "manager": manager,
        "roles": ROLES,
        "can_manage": is_allowed(principal, "manage", user_resource(user)),
        "is_self": user.id == principal.user_id,
    }


@router.get("/users/{user_id}")
def person_page(user_id: RowId, request: Request, viewer: PageViewer, context: Context) -> Response:
    with context.db.session() as session:
        user = _visible_user(session, viewer.principal, user_id)
        return render(request, "user.html", **_person_values(session, viewer, user))


def _person_answer(
    request: Request,
    context: Context,
    viewer: Viewer,
    user_id: int,
    *,
    notice: str | None = None,
    error: MeshclawError | None = None,
) -> Response:
    with context.db.session() as session:
        user = _visible_user(session, viewer.principal, user_id)
        values = _person_values(session, viewer, user)
    return form_result(
        request,
        page_template="user.html",
        panel_template="_user_panel.html",
        redirect_to=f"/users/{user_id}",
        notice=notice,
        error=error.message if error else None,
        status=error.status if error else 200,
        **values,
    )


@router.post("/users/{user_id}")
def change_person(
    user_id: RowId,
    request: Request,
    viewer: FormActor,
    context: Context,
    role: Annotated[str, Form(max_length=20)] = "",
    team_id: Annotated[str, Form()] = "",
    manager_email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    """Role, team and manager together: the form always shows all three, so it always sends all three."""
    principal = viewer.principal
    try:
        with context.db.session() as session:
            user = _visible_user(session, principal, user_id)
            authorize(principal, "manage", user_resource(user))
            before = PersonState.of(user)
            store.update_user(
                session,
                user,
                role=store.parse_role(role),
                team_id=optional_id(team_id, "team_id"),
                manager_id=_manager_id(session, principal.org_id, manager_email),
            )
            record_user_change(context, session, principal, user=user, before=before)
    except PermissionDeniedError:
        raise
    except MeshclawError as exc:
        return _person_answer(request, context, viewer, user_id, error=exc)
    return _person_answer(request, context, viewer, user_id, notice="Changes saved.")


@router.post("/users/{user_id}/active")
def set_active(
    user_id: RowId,
    request: Request,
    viewer: FormActor,
    context: Context,
    active: Annotated[str, Form()] = "",
) -> Response:
    """Deactivate (`active=false`) or reactivate (`active=true`) a person; deactivated people cannot sign
    in and their sessions and API keys stop working."""
    principal = viewer.principal
    wanted = active == "true"
    try:
        with context.db.session() as session:
            user = _visible_user(session, principal, user_id)
            authorize(principal, "manage", user_resource(user))
            before = PersonState.of(user)
            store.update_user(session, user, active=wanted)
            record_user_change(context, session, principal, user=user, before=before)
    except PermissionDeniedError:
        raise
    except MeshclawError as exc:
        return _person_answer(request, context, viewer, user_id, error=exc)
    return _person_answer(
        request, context, viewer, user_id, notice="Reactivated." if wanted else "Deactivated."
    )
