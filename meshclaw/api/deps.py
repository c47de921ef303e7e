"""Typed dependencies for API handlers: the app context, a database session, the current principal."""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from meshclaw.context import AppContext
from meshclaw.errors import AuthenticationError, PermissionDeniedError
from meshclaw.identity.authenticate import principal_from_key, resolve_session
from meshclaw.identity.principal import KeyScope, Principal

SESSION_COOKIE = "meshclaw_session"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_API_SCOPES = frozenset({KeyScope.API_READ, KeyScope.API_WRITE})


def get_context(request: Request) -> AppContext:
    context = request.app.state.context
    assert isinstance(context, AppContext)
    return context


Context = Annotated[AppContext, Depends(get_context)]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def authenticate_request(request: Request, context: AppContext, session: Session) -> Principal:
    """API key first (`Authorization: Bearer`), then the session cookie.

    Cookie-authenticated changes must carry the session's CSRF token in `X-CSRF-Token`: a cookie is sent
    by the browser on any site's request, a header only by our own pages.
    """
    now = context.clock.now()
    token = bearer_token(request)
    if token is not None:
        return principal_from_key(session, token, now=now)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        ttl = timedelta(hours=context.settings.session_ttl_hours)
        principal, row = resolve_session(session, cookie, ttl=ttl, now=now)
        if request.method not in _SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            # Bytes: compare_digest refuses str with non-ASCII characters, which a header can carry.
            if not hmac.compare_digest(sent.encode(), row.csrf_token.encode()):
                raise PermissionDeniedError("missing or wrong CSRF token; send the X-CSRF-Token header")
        return principal
    raise AuthenticationError("sign in, or send an API key as 'Authorization: Bearer <key>'")


def get_principal(request: Request, context: Context) -> Principal:
    # Its own short transaction: handlers open theirs explicitly, so every commit happens before the
    # response is sent, whatever FastAPI's teardown order for yield-dependencies is.
    with context.db.session() as session:
        principal = authenticate_request(request, context, session)
    # A key made for the gateway or for telemetry only is refused here, before any handler (or request
    # validation) runs, so no endpoint can forget the check; `authorize` then narrows read vs. write.
    if principal.key_scopes is not None and not principal.key_scopes & _API_SCOPES:
        scopes = ", ".join(sorted(principal.key_scopes)) or "none"
        raise PermissionDeniedError(
            f"this API key's scopes ({scopes}) do not include api:read or api:write; "
            "create a key with one of them to use /api/v1"
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
