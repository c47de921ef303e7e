"""The /api/v1 router: every resource router, mounted in one place."""

from __future__ import annotations

from fastapi import APIRouter

from meshclaw.api import (
    accounts,
    agents,
    approvals,
    audit,
    budgets,
    clarity,
    clarity_flags,
    clarity_settings,
    hooks,
    keys,
    kill_switches,
    memory,
    notifications,
    organization,
    policy,
    prices,
    providers,
    runs,
    teams,
    usage,
    users,
    vault,
)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    for module in (
        users,
        teams,
        keys,
        organization,
        usage,
        prices,
        providers,
        budgets,
        clarity,
        clarity_flags,
        clarity_settings,
        memory,
        agents,
        runs,
        approvals,
        hooks,
        audit,
        vault,
        policy,
        kill_switches,
        notifications,
        accounts,
    ):
        router.include_router(module.router)
    return router
