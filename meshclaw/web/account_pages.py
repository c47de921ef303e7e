"""/account: a person's own profile (name, password) and /account/keys: their own API keys.

A new key's secret is rendered exactly once, in the answer to the form that created it; it is never
stored (only its SHA-256 is) and no later page can show it. Changing one's password asks for the current
one, checked through the same rate-limited sign-in check as /login, so a borrowed session cannot take
the account over or guess the password; it then ends every other session of that person.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from meshclaw.api.audit_trail import record_admin_action
from meshclaw.api.deps import Context
from meshclaw.api.people_audit import PersonState, record_password_set, record_user_change
from meshclaw.api.row_ids import RowId
from meshclaw.api.users import user_resource
from meshclaw.db.models import ApiKey
from meshclaw.errors import InvalidInputError, MeshclawError, NotFoundError, PermissionDeniedError
from meshclaw.identity import store
from meshclaw.identity.authenticate import (
    LoginLimits,
    check_password_login,
    end_all_sessions,
    start_session,
)
from meshclaw.identity.authorize import Resource, authorize, is_allowed, reach
from meshclaw.identity.passwords import hash_password
from meshclaw.identity.principal import KeyScope
from meshclaw.web.auth_pages import set_session_cookie
from meshclaw.web.deps import FormActor, PageViewer, Viewer
from meshclaw.web.render import form_result, render

router = APIRouter(include_in_schema=False)

KeyStatus = Literal["active", "revoked", "expired"]
SCOPE_HELP: dict[str, str] = {
    KeyScope.API_READ.value: "read through the JSON API",
    KeyScope.API_WRITE.value: "make changes through the JSON API",
    KeyScope.GATEWAY.value: "call AI models through the MeshClaw gateway",
    KeyScope.INGEST.value: "send usage telemetry (OpenTelemetry)",
}
NOTICES = {"password-changed": "Password changed; your other browsers are signed out."}
"""Fixed texts picked by a code in the URL, so a crafted link cannot make the page say anything else."""
EXPIRY_CHOICES = {"": "never", "30": "in 30 days", "90": "in 90 days", "365": "in a year"}


def key_status(key: ApiKey, now: datetime) -> KeyStatus:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


# --- profile ----------------------------------------------------------------------------------------


def _profile_answer(
    request: Request,
    context: Context,
    viewer: Viewer,
    *,
    notice: str | None = None,
    error: MeshclawError | None = None,
    renamed: bool = False,
) -> Response:
    return form_result(
        request,
        renamed=renamed,
        page_template="account.html",
        panel_template="_account_panel.html",
        redirect_to="/account",
        notice=notice,
        error=error.message if error else None,
        status=error.status if error else 200,
        **_profile_values(context, viewer),
    )


def _profile_values(context: Context, viewer: Viewer) -> dict[str, Any]:
    principal = viewer.principal
    with context.db.session() as session:
        me = store.get_user(session, principal.org_id, principal.user_id)
        authorize(principal, "read", user_resource(me))
        team = store.get_team(session, principal.org_id, me.team_id) if me.team_id else None
        manager = store.get_user(session, principal.org_id, me.manager_id) if me.manager_id else None
        return {"me": me, "team": team, "manager": manager}


@router.get("/account")
def profile_page(request: Request, viewer: PageViewer, context: Context, notice: str = "") -> Response:
    return render(request, "account.html", notice=NOTICES.get(notice), **_profile_values(context, viewer))


@router.post("/account/name")
def change_name(
    request: Request,
    viewer: FormActor,
    context: Context,
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    principal = viewer.principal
    try:
        with context.db.session() as session:
            me = store.get_user(session, principal.org_id, principal.user_id)
            authorize(principal, "update", user_resource(me))
            before = PersonState.of(me)
            store.update_user(session, me, name=name)
            record_user_change(context, session, principal, user=me, before=before)
    except PermissionDeniedError:
        raise
    except MeshclawError as exc:
        return _profile_answer(request, context, viewer, error=exc)
    return _profile_answer(request, context, viewer, notice="Name saved.", renamed=True)


@router.post("/account/password")
def change_password(
    request: Request,
    viewer: FormActor,
    context: Context,
    current_password: Annotated[str, Form(max_length=1024)] = "",
    new_password: Annotated[str, Form(max_length=1024)] = "",
    new_password_again: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    principal = viewer.principal
    settings = context.settings
    if new_password != new_password_again:
        mismatch = InvalidInputError("the two new passwords differ", field="new_password")
        return _profile_answer(request, context, viewer, error=mismatch)
    now = context.clock.now()
    failure: MeshclawError | None = None
    with context.db.session() as session:
        try:
            me = check_password_login(
                session,
                org_id=principal.org_id,
                email=principal.email,
                password=current_password,
                client=request.client.host if request.client else "unknown",
                limits=LoginLimits(
                    max_failures=settings.login_max_failures,
                    window=timedelta(minutes=settings.login_window_minutes),
                ),
                now=now,
            )
            authorize(principal, "update", user_resource(me))
            new_hash = hash_password(new_password)
        except PermissionDeniedError:
            raise
        except MeshclawError as exc:
            failure = exc  # a wrong current password must be committed: the rate limit counts it
        else:
            store.update_user(session, me, password_hash=new_hash)
            record_password_set(context, session, principal, user=me)
            end_all_sessions(session, me.id)
            fresh = start_session(
                session,
                me,
                ttl=timedelta(hours=settings.session_ttl_hours),
                now=now,
                user_agent=request.headers.get("user-agent"),
            )
    if failure is not None:
        if failure.status == 401:
            failure = InvalidInputError("the current password is wrong", field="current_password")
        return _profile_answer(request, context, viewer, error=failure)
    # This browser keeps going with a new session, whose CSRF token differs from the one in the page: load a
    # fresh page (a swapped-in panel would leave the old token in <body hx-headers> and in every form).
    target = "/account?notice=password-changed"
    if request.headers.get("hx-request") == "true":
        response: Response = Response(status_code=204, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, settings, fresh.token)
    return response


# --- API keys ---------------------------------------------------------------------------------------


def _keys_values(context: Context, viewer: Viewer) -> dict[str, Any]:
    principal = viewer.principal
    if reach(principal, "read", "api_key") is None:
        raise PermissionDeniedError("your role does not allow API keys")
    now = context.clock.now()
    with context.db.session() as session:
        keys = store.list_keys(session, principal.org_id, owner_user_id=principal.user_id)
    rows = sorted(keys, key=lambda k: (key_status(k, now) != "active", -k.id))
    return {
        "keys": [(key, key_status(key, now)) for key in rows],
        "scope_help": SCOPE_HELP,
        "expiry_choices": EXPIRY_CHOICES,
        "can_create": is_allowed(
            principal, "create", Resource(kind="api_key", owner_user_id=principal.user_id)
        ),
        "new_key": None,
        "new_secret": None,
    }


@router.get("/account/keys")
def keys_page(request: Request, viewer: PageViewer, context: Context) -> Response:
    return render(request, "keys.html", **_keys_values(context, viewer))


@router.post("/account/keys")
def create_key(
    request: Request,
    viewer: FormActor,
    context: Context,
    name: Annotated[str, Form(max_length=200)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    expires_days: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    principal = viewer.principal
    authorize(principal, "create", Resource(kind="api_key", owner_user_id=principal.user_id))
    now = context.clock.now()
    try:
        if not scopes:
            raise InvalidInputError("choose at least one scope", field="scopes")
        if expires_days not in EXPIRY_CHOICES:
            raise InvalidInputError("choose an expiry from the list", field="expires_days")
        days = int(expires_days) if expires_days else None
        with context.db.session() as session:
            key, secret = store.create_key(
                session,
                org_id=principal.org_id,
                owner_user_id=principal.user_id,
                name=name,
                scopes=scopes,
                expires_at=now + timedelta(days=days) if days else None,
                now=now,
            )
            record_admin_action(
                context,
                session,
                principal,
                kind="admin.key_created",
                target=f"api_key:{key.id}",
                arguments={"owner_user_id": key.owner_user_id, "name": key.name, "scopes": list(key.scopes)},
            )
    except MeshclawError as exc:
        return form_result(
            request,
            page_template="keys.html",
            panel_template="_keys_panel.html",
            redirect_to="/account/keys",
            error=exc.message,
            status=exc.status,
            **_keys_values(context, viewer),
        )
    values = _keys_values(context, viewer)
    values.update(new_key=key, new_secret=secret)
    # Rendered (never redirected) even without JavaScript: this answer is the only place the secret exists.
    template = "_keys_panel.html" if request.headers.get("hx-request") == "true" else "keys.html"
    return render(request, template, status=201, **values)


@router.post("/account/keys/{key_id}/revoke")
def revoke_key(key_id: RowId, request: Request, viewer: FormActor, context: Context) -> Response:
    principal = viewer.principal
    with context.db.session() as session:
        try:
            key = store.get_key(session, principal.org_id, key_id)
        except NotFoundError:
            key = None
        # This page is about one's own keys: another person's key is "not found" here, whatever the role.
        if key is None or key.owner_user_id != principal.user_id:
            raise NotFoundError(f"API key {key_id} is not one of your keys")
        authorize(principal, "delete", Resource(kind="api_key", id=key.id, owner_user_id=key.owner_user_id))
        store.revoke_key(session, key, now=context.clock.now())
        record_admin_action(
            context,
            session,
            principal,
            kind="admin.key_revoked",
            target=f"api_key:{key.id}",
            arguments={"owner_user_id": key.owner_user_id, "name": key.name},
        )
        revoked = key.name
    return form_result(
        request,
        page_template="keys.html",
        panel_template="_keys_panel.html",
        redirect_to="/account/keys",
        notice=f"Key '{revoked}' revoked; it stops working now.",
        **_keys_values(context, viewer),
    )
