"""Sign-in, sign-out, the first-admin setup link, and `/` (which sends people where they belong).

The session is server-side (`identity.authenticate`); the browser holds only a random token in the
`meshclaw_session` cookie: HttpOnly, SameSite=Lax (so links from mail or chat into MeshClaw keep working),
Secure when the public URL is HTTPS, Path=/, and no Max-Age, so it ends with the browser while the server
enforces the sliding expiry. A password failure is committed before the error is shown, because the
failures are what the rate limit counts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from meshclaw.api.deps import SESSION_COOKIE, Context
from meshclaw.config import Settings
from meshclaw.errors import AuthenticationError, MeshclawError, PermissionDeniedError, RateLimitedError
from meshclaw.identity import store
from meshclaw.identity.authenticate import (
    LoginLimits,
    check_password_login,
    end_session,
    resolve_session,
    start_session,
)
from meshclaw.identity.bootstrap import complete_first_admin, live_token
from meshclaw.web import csrf
from meshclaw.web.deps import DEFAULT_LANDING, safe_next
from meshclaw.web.render import render

router = APIRouter(include_in_schema=False)

NOTICES = {
    "signed-out": "You are signed out.",
    "setup-done": "Your admin account is ready. Sign in with the email and password you just chose.",
    "sso-failed": "Single sign-on did not complete. Try again, or sign in with your password.",
    "sso-no-account": "No MeshClaw account matches that single sign-on identity; ask an admin to add you.",
}
"""Fixed texts chosen by a code in the URL, so a crafted link cannot make the page say anything else."""


EXPIRED_FORM = "This form expired or did not come from MeshClaw. Please try again."


def _has_live_session(request: Request, context: Context) -> bool:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return False
    try:
        with context.db.session() as session:
            ttl = timedelta(hours=context.settings.session_ttl_hours)
            resolve_session(session, cookie, ttl=ttl, now=context.clock.now())
    except AuthenticationError:
        return False
    return True


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, path="/", secure=settings.secure_cookies, httponly=True, samesite="lax"
    )


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/")
def home(request: Request, context: Context) -> Response:
    return RedirectResponse(DEFAULT_LANDING if _has_live_session(request, context) else "/login", 303)


def _login_page(
    request: Request,
    context: Context,
    *,
    next_path: str,
    email: str = "",
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    token = csrf.login_token(request, context.settings)
    response = render(
        request,
        "login.html",
        status=status,
        headers=headers,
        login_csrf=token,
        next_path=next_path,
        email=email,
        error=error,
        notice=notice,
        sso=bool(context.settings.oidc_issuer),
    )
    csrf.set_login_cookie(response, context.settings, token)
    return response


@router.get("/login")
def login_form(request: Request, context: Context, next: str | None = None, notice: str = "") -> Response:
    target = safe_next(next)
    if _has_live_session(request, context):
        return RedirectResponse(target, 303)
    return _login_page(request, context, next_path=target, notice=NOTICES.get(notice))


@router.post("/login")
def login(
    request: Request,
    context: Context,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    settings = context.settings
    target = safe_next(next)
    try:
        csrf.check_login_token(request, settings, csrf_token)
    except PermissionDeniedError:
        # Most often a form left open past the cookie's hour: offer a fresh one, keep the 403.
        return _login_page(request, context, next_path=target, email=email, error=EXPIRED_FORM, status=403)
    limits = LoginLimits(
        max_failures=settings.login_max_failures, window=timedelta(minutes=settings.login_window_minutes)
    )
    now = context.clock.now()
    failure: MeshclawError | None = None
    with context.db.session() as session:
        org_id = _org_id(session)
        try:
            user = check_password_login(
                session,
                org_id=org_id,
                email=email,
                password=password,
                client=_client(request),
                limits=limits,
                now=now,
            )
        except (AuthenticationError, RateLimitedError) as exc:
            failure = exc  # leave the block normally, so the recorded failure is committed
        else:
            old = request.cookies.get(SESSION_COOKIE)
            if old:
                end_session(session, old)
            new = start_session(
                session,
                user,
                ttl=timedelta(hours=settings.session_ttl_hours),
                now=now,
                user_agent=request.headers.get("user-agent"),
            )
    if isinstance(failure, RateLimitedError):
        minutes = max(1, (failure.retry_after_s + 59) // 60)
        return _login_page(
            request,
            context,
            next_path=target,
            email=email,
            error=f"Too many failed sign-ins. Wait {minutes} minutes, then try again.",
            status=429,
            headers={"Retry-After": str(failure.retry_after_s)},
        )
    if failure is not None:
        # The same words whether the email is unknown or the password wrong: nothing to probe.
        return _login_page(
            request, context, next_path=target, email=email, error="Wrong email or password.", status=401
        )
    response = RedirectResponse(target, 303)
    set_session_cookie(response, settings, new.token)
    csrf.clear_login_cookie(response, settings)
    return response


def _org_id(session: Session) -> int:
    org = store.get_org(session)
    if org is None:
        raise AuthenticationError("the organization does not exist yet; start MeshClaw with `meshclaw up`")
    return org.id


@router.post("/logout")
def logout(request: Request, context: Context, csrf_token: Annotated[str, Form()] = "") -> Response:
    """Sign out: the server-side session is deleted, not merely the cookie."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with context.db.session() as session:
            try:
                _, row = resolve_session(
                    session,
                    cookie,
                    ttl=timedelta(hours=context.settings.session_ttl_hours),
                    now=context.clock.now(),
                )
            except AuthenticationError:
                row = None
            if row is not None:
                csrf.check_origin(request, context.settings)
                csrf.check_session_token(request.headers.get("x-csrf-token") or csrf_token, row.csrf_token)
                end_session(session, cookie)
    response = RedirectResponse("/login?notice=signed-out", 303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", secure=context.settings.secure_cookies, httponly=True, samesite="lax"
    )
    return response


def _setup_page(
    request: Request,
    context: Context,
    token: str,
    *,
    email: str = "",
    name: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    login_token = csrf.login_token(request, context.settings)
    response = render(
        request,
        "setup.html",
        status=status,
        token=token,
        login_csrf=login_token,
        email=email,
        name=name,
        error=error,
    )
    csrf.set_login_cookie(response, context.settings, login_token)
    return response


def _link_refused(request: Request, message: str) -> Response:
    return render(request, "setup_invalid.html", status=403, message=message)


@router.get("/setup/{token}")
def setup_form(token: str, request: Request, context: Context) -> Response:
    try:
        with context.db.session() as session:
            live_token(session, token, now=context.clock.now())
    except AuthenticationError as exc:
        return _link_refused(request, exc.message)
    return _setup_page(request, context, token)


@router.post("/setup/{token}")
def setup(
    token: str,
    request: Request,
    context: Context,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    password_again: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        csrf.check_login_token(request, context.settings, csrf_token)
    except PermissionDeniedError:
        return _setup_page(request, context, token, email=email, name=name, error=EXPIRED_FORM, status=403)
    if password != password_again:
        return _setup_page(
            request, context, token, email=email, name=name, error="The two passwords differ.", status=422
        )
    try:
        with context.db.session() as session:
            complete_first_admin(
                session, token, email=email, name=name, password=password, now=context.clock.now()
            )
    except AuthenticationError as exc:
        return _link_refused(request, exc.message)
    except MeshclawError as exc:
        return _setup_page(
            request, context, token, email=email, name=name, error=exc.message, status=exc.status
        )
    response = RedirectResponse("/login?notice=setup-done", 303)
    csrf.clear_login_cookie(response, context.settings)
    return response
