"""Cross-site request forgery protection for every state-changing web request.

Three checks, all failing with 403:

1. **Signed-in forms and HTMX requests** carry the session's own CSRF token (stored server-side with the
   session): as the hidden field `csrf_token` in forms, as the `X-CSRF-Token` header from HTMX (set once
   with `hx-headers` on `<body>`). Another site can make the browser send our cookie, never this token.

2. **The sign-in and first-admin setup forms** have no session yet (login CSRF would sign a victim into
   the attacker's account). They use a double-submit cookie: the form page sets a random token in a
   short-lived (1 hour), HttpOnly, SameSite=Strict cookie and repeats it in a hidden field; the post must
   carry both, equal. A cross-site page can neither read the cookie nor set it. We chose this over a
   *signed* token because the deployment has no shared signing secret to sign with, and a per-process key
   would break sign-in behind a load balancer. What the signature adds elsewhere — stopping a sibling
   subdomain from planting its own cookie value — the `__Host-` cookie prefix gives whenever MeshClaw is
   served over HTTPS: browsers refuse a `__Host-` cookie set by any other host or without `Secure`.
   Storing a pre-session token in the database would do as well but costs an anonymous write per visit.

3. **Origin check on every web post**, as defence in depth: a request a browser marks as cross-site
   (`Sec-Fetch-Site: cross-site` or `same-site`, or an `Origin` that is not ours, or `null`) is refused.
   Requests without these headers (non-browser clients, tests) pass this check and still need 1 or 2.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from fastapi import Request, Response

from meshclaw.config import Settings
from meshclaw.errors import PermissionDeniedError
from meshclaw.identity.tokens import new_token

FORM_FIELD = "csrf_token"
LOGIN_COOKIE = "meshclaw_login_csrf"
LOGIN_COOKIE_MAX_AGE_S = 3600
_REJECTED = "this form expired or did not come from MeshClaw; reload the page and try again"


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check_origin(request: Request, settings: Settings) -> None:
    """Refuse posts a browser tells us came from another site."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise PermissionDeniedError(_REJECTED)
    origin = request.headers.get("origin")
    if origin is None:
        return
    ours = {_origin_of(settings.resolved_public_url), _origin_of(str(request.base_url))}
    if origin.lower().rstrip("/") not in ours:
        raise PermissionDeniedError(_REJECTED)


def check_session_token(sent: str | None, expected: str) -> None:
    """`sent` is the form field or the X-CSRF-Token header; `expected` the session's token."""
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise PermissionDeniedError(_REJECTED)


def login_cookie_name(settings: Settings) -> str:
    return f"__Host-{LOGIN_COOKIE}" if settings.secure_cookies else LOGIN_COOKIE


def login_token(request: Request, settings: Settings) -> str:
    """The token for a sign-in or setup form: the browser's current one, so several tabs keep working."""
    current = request.cookies.get(login_cookie_name(settings), "")
    return current if 20 <= len(current) <= 100 else new_token()


def set_login_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        login_cookie_name(settings),
        token,
        max_age=LOGIN_COOKIE_MAX_AGE_S,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def clear_login_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        login_cookie_name(settings),
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def check_login_token(request: Request, settings: Settings, sent: str) -> None:
    """Both halves of the double submit must be present and equal."""
    check_origin(request, settings)
    cookie = request.cookies.get(login_cookie_name(settings), "")
    if not cookie or not sent or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise PermissionDeniedError(_REJECTED)
