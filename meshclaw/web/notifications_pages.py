"""/notifications: the viewer's own notifications, newest first, and marking them all read. The count of
unread ones is in the navigation of every page (`web.deps.page_viewer`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from meshclaw.api.deps import Context
from meshclaw.notifications import store
from meshclaw.web.deps import FormActor, PageViewer
from meshclaw.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/notifications")
def notifications_page(request: Request, viewer: PageViewer, context: Context) -> Response:
    with context.db.session() as session:
        items = store.list_for(session, viewer.principal.user_id, limit=100)
    return render(request, "notifications.html", items=items)


@router.post("/notifications/read")
def mark_all_read(viewer: FormActor, context: Context) -> Response:
    with context.db.session() as session:
        store.mark_read(session, viewer.principal.user_id, now=context.clock.now())
    return RedirectResponse("/notifications", status_code=303)
