"""/agents/{id}/runs and /runs/{id}: an agent's runs with "Run now", and one run with a live view.

The live view is HTMX polling: while a run is active, its status and steps panel asks for itself again
every second (`/runs/{id}/live`, the panel alone); the panel of an ended run carries no trigger, so the
polling stops by itself. Polling rather than server-sent events: one small request a second per open page
holds no connection or task per viewer in the server, and HTMX is already here.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from meshclaw.api.deps import Context
from meshclaw.api.row_ids import RowId
from meshclaw.api.runs import engine_of
from meshclaw.identity.authorize import is_allowed
from meshclaw.runs import history
from meshclaw.web.deps import FormActor, PageViewer
from meshclaw.web.render import render

router = APIRouter(include_in_schema=False)

NOTICES = {"started": "Run started.", "skipped": "The run was not started: see its reason below."}
"""Fixed texts picked by a code in the URL, so a crafted link cannot make the page say anything else."""


@router.get("/agents/{agent_id}/runs")
def agent_runs_page(agent_id: RowId, request: Request, viewer: PageViewer, context: Context) -> Response:
    principal = viewer.principal
    with context.db.session() as session:
        agent = history.authorize_agent(session, principal, agent_id, "read")
        runs = history.list_visible(session, principal, agent_id=agent_id, limit=100)
        can_run = is_allowed(principal, "update", history.agent_resource(session, agent))
    return render(request, "agent_runs.html", agent=agent, runs=runs, can_run=can_run)


@router.post("/agents/{agent_id}/runs")
async def run_now(agent_id: RowId, request: Request, viewer: FormActor, context: Context) -> Response:
    engine = engine_of(request)
    principal = viewer.principal

    def start() -> str | None:
        with context.db.session() as session:
            history.authorize_agent(session, principal, agent_id, "update")
        return engine.start_run(
            agent_id,
            trigger_kind="manual",
            trigger_detail={"by": principal.email},
            mode="attended",
            started_by_user_id=principal.user_id,
        )

    run_id = await asyncio.to_thread(start)
    return RedirectResponse(f"/runs/{run_id}?notice=started", status_code=303)


@router.get("/runs/{run_id}")
def run_page(run_id: str, request: Request, viewer: PageViewer, context: Context) -> Response:
    with context.db.session() as session:
        found = history.detail(session, viewer.principal, run_id)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    if found.run.status == "skipped":
        notice = NOTICES["skipped"]
    return render(request, "run.html", found=found, run=found.run, notice=notice)


@router.get("/runs/{run_id}/live")
def run_live_panel(run_id: str, request: Request, viewer: PageViewer, context: Context) -> Response:
    with context.db.session() as session:
        found = history.detail(session, viewer.principal, run_id)
    return render(request, "_run_live.html", found=found, run=found.run)
