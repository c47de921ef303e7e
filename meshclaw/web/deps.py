"""Who is looking at a page (`PageViewer`) and who is changing something (`FormActor`, CSRF-checked).

A missing or expired session raises `AuthenticationError`; the web's error renderer turns that into a
redirect to /login?next=<this page>. The viewer is also left on `request.state`, so error pages can show
the same navigation as the page that failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request

from meshclaw.api.deps import CSRF_HEADER, SESSION_COOKIE, Context
from meshclaw.api.row_ids import parse_row_id
from meshclaw.errors import AuthenticationError
from meshclaw.identity import store
from meshclaw.identity.authenticate import resolve_session
from meshclaw.identity.authorize import Resource, is_allowed, reach
from meshclaw.identity.principal import Principal
from meshclaw.notifications.store import unread_count
from meshclaw.runs import approval_inbox
from meshclaw.web import csrf

DEFAULT_LANDING = "/org"


@dataclass(frozen=True, kw_only=True)
class Nav:
    """Which navigation entries to show; each answer comes from `authorize`, never from a role name."""

    people: bool
    """A directory of other people: only when the viewer may read more than their own record."""
    keys: bool
    usage: bool
    """"My usage": everyone whose role may read their own usage."""
    budgets: bool
    """The budgets page in the navigation: for those who set budgets (admins); others may still open it."""
    providers: bool
    """The model providers page: admins, who configure them, and auditors, who may read them."""
    agents: bool
    """Agents: everyone whose role may read their own."""
    audit: bool
    """The audit log: admins and auditors."""
    kill_switches: bool = False
    """The kill switches page in the navigation: admins, who hold the organization-wide one (everyone may
    still open it, and each agent's page has its own switch)."""
    policy: bool = False
    """The policy page (allowed destinations, pre-approvals) in the navigation: admins, who change it
    (everyone may still open it)."""


@dataclass(frozen=True, kw_only=True)
class Viewer:
    principal: Principal
    name: str
    org_name: str
    csrf_token: str
    nav: Nav
    unread: int = 0
    """The viewer's unread notifications, counted in the navigation."""
    pending_approvals: int = 0
    """Open approvals the viewer may decide, counted in the navigation."""


def _nav_for(principal: Principal) -> Nav:
    return Nav(
        people=reach(principal, "read", "user") in ("all", "team"),
        keys=is_allowed(principal, "create", Resource(kind="api_key", owner_user_id=principal.user_id)),
        usage=is_allowed(principal, "read", Resource(kind="usage", owner_user_id=principal.user_id)),
        budgets=is_allowed(principal, "create", Resource(kind="budget")),
        providers=is_allowed(principal, "read", Resource(kind="provider")),
        agents=is_allowed(principal, "read", Resource(kind="agent", owner_user_id=principal.user_id)),
        audit=is_allowed(principal, "read", Resource(kind="audit")),
        kill_switches=is_allowed(principal, "manage", Resource(kind="organization")),
        policy=is_allowed(principal, "create", Resource(kind="policy")),
    )


def page_viewer(request: Request, context: Context) -> Viewer:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise AuthenticationError("sign in to continue")
    with context.db.session() as session:
        ttl = timedelta(hours=context.settings.session_ttl_hours)
        principal, row = resolve_session(session, cookie, ttl=ttl, now=context.clock.now())
        user = store.get_user(session, principal.org_id, principal.user_id)
        org = store.get_org(session)
        viewer = Viewer(
            principal=principal,
            name=user.name,
            org_name=org.name if org else "",
            csrf_token=row.csrf_token,
            nav=_nav_for(principal),
            unread=unread_count(session, principal.user_id),
            pending_approvals=approval_inbox.pending_count(session, principal, now=context.clock.now()),
        )
    request.state.viewer = viewer
    return viewer


PageViewer = Annotated[Viewer, Depends(page_viewer)]


async def form_actor(request: Request, viewer: PageViewer, context: Context) -> Viewer:
    """The viewer, once the request proved it came from our own page (CSRF token, origin)."""
    csrf.check_origin(request, context.settings)
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        value = (await request.form()).get(csrf.FORM_FIELD)
        sent = value if isinstance(value, str) else None
    csrf.check_session_token(sent, viewer.csrf_token)
    return viewer


FormActor = Annotated[Viewer, Depends(form_actor)]


def safe_next(value: str | None) -> str:
    """A same-site path to go to after sign-in; anything that could leave the site becomes the default.

    Only a path starting with a single `/` is accepted: `//evil.example` and `/\\evil.example` are
    read by browsers as other hosts, and a scheme or host means another site.
    """
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith(("//", "/\\")):
        return DEFAULT_LANDING
    if any(ord(ch) < 0x20 or ch == "\\" for ch in value):
        return DEFAULT_LANDING
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return DEFAULT_LANDING
    return value


def optional_id(value: str | None, field: str) -> int | None:
    """Form selects send "" for "none"; anything else must be a number."""
    if value is None or value.strip() == "":
        return None
    return parse_row_id(value, field)
