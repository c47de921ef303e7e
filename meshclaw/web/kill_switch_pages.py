"""/kill-switches: the switches (engaged and released), the organization-wide one for admins, "stop all my
agents" for everyone, and releasing. The agent page posts here too for its own switch. Every change goes
through `api.kill_switches` (authorization, audit record), as the API and the CLI do."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from meshclaw.api.deps import Context
from meshclaw.api.kill_switches import engage_switch, release_switch, resolve_target, stop_here, switch_out
from meshclaw.api.row_ids import RowId
from meshclaw.errors import InvalidInputError
from meshclaw.identity.authorize import Resource, is_allowed
from meshclaw.runs import kill_switches
from meshclaw.runs.kill_switches import SCOPES, Engaged, Scope
from meshclaw.web.deps import FormActor, PageViewer, safe_next
from meshclaw.web.render import render

router = APIRouter(include_in_schema=False)

NOTICES = {
    "engaged": "Kill switch engaged: the runs it covers were stopped, and no new run starts until it is released.",
    "released": "Kill switch released: the agents it covered may run again.",
}


def _with_notice(path: str, code: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}notice={code}"


@router.get("/kill-switches")
def switches_page(
    request: Request, viewer: PageViewer, context: Context, notice: str | None = None
) -> Response:
    principal = viewer.principal
    # Admins release any switch; others the ones they engaged (the API refuses the rest anyway).
    can_org = is_allowed(principal, "manage", Resource(kind="organization"))
    with context.db.session() as session:
        rows = [
            switch_out(session, row) for row in kill_switches.history(session, principal.org_id, limit=100)
        ]
    return render(
        request,
        "kill_switches.html",
        engaged=[row for row in rows if row.engaged],
        released=[row for row in rows if not row.engaged],
        org_engaged=any(row.engaged and row.scope == "org" for row in rows),
        mine_engaged=any(
            row.engaged and row.scope == "user" and row.target_id == principal.user_id for row in rows
        ),
        can_org=can_org,
        releasable={row.id for row in rows if can_org or row.engaged_by_user_id == principal.user_id},
        notice=NOTICES.get(notice or ""),
    )


@router.post("/kill-switches")
async def engage(
    request: Request,
    viewer: FormActor,
    context: Context,
    scope: Annotated[str, Form()],
    target: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    next: Annotated[str, Form()] = "/kill-switches",
) -> Response:
    principal = viewer.principal
    if scope not in SCOPES:
        raise InvalidInputError(f"scope must be one of {', '.join(SCOPES)}", field="scope")
    chosen: Scope = scope  # checked just above

    def write() -> Engaged:
        with context.db.session() as session:
            target_id = resolve_target(session, principal.org_id, chosen, target or None)
            return engage_switch(
                context, session, principal, scope=chosen, target_id=target_id, reason=reason,
                org_id=principal.org_id,
            )  # fmt: skip

    engaged = await asyncio.to_thread(write)
    await stop_here(request, engaged)
    return RedirectResponse(_with_notice(safe_next(next), "engaged"), status_code=303)


@router.post("/kill-switches/{switch_id}/release")
def release(
    switch_id: RowId, viewer: FormActor, context: Context, next: Annotated[str, Form()] = "/kill-switches"
) -> Response:
    principal = viewer.principal
    with context.db.session() as session:
        release_switch(context, session, principal, switch_id=switch_id, org_id=principal.org_id)
    return RedirectResponse(_with_notice(safe_next(next), "released"), status_code=303)
