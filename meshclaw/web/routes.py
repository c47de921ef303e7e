"""`build_router()`: every page router of the web UI plus its static assets, mounted in one place.

`WEB_PATH_PREFIXES` lists the paths the web owns, so the server can give them HTML error pages while
/api keeps JSON.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from meshclaw.web import (
    account_pages,
    accounts_pages,
    agents_pages,
    approvals_pages,
    audit_pages,
    auth_pages,
    budgets_pages,
    chat_pages,
    clarity_exports,
    clarity_flag_pages,
    clarity_pages,
    clarity_subject_pages,
    kill_switch_pages,
    notifications_pages,
    org_pages,
    policy_pages,
    prices_pages,
    providers_pages,
    runs_pages,
    teams_pages,
    usage_pages,
    users_pages,
)
from meshclaw.web.render import STATIC_DIR

WEB_PATH_PREFIXES: tuple[str, ...] = (
    "/login",
    "/logout",
    "/setup/",
    "/org",
    "/teams",
    "/users",
    "/account",
    "/usage",
    "/prices",
    "/budgets",
    "/providers",
    "/clarity",
    "/static/",
    "/auth/",
    "/audit",
    "/agents",
    "/runs",
    "/kill-switches",
    "/notifications",
    "/approvals",
    "/policy",
)
"""`/` itself is only a redirect and needs no entry (a `/` prefix would claim every path)."""


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for module in (
        auth_pages,
        org_pages,
        teams_pages,
        users_pages,
        account_pages,
        accounts_pages,
        usage_pages,
        prices_pages,
        providers_pages,
        agents_pages,
        runs_pages,
        approvals_pages,
        chat_pages,
        budgets_pages,
        clarity_pages,
        clarity_subject_pages,
        clarity_flag_pages,
        clarity_exports,
        audit_pages,
        kill_switch_pages,
        notifications_pages,
        policy_pages,
    ):
        router.include_router(module.router)
    router.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return router
