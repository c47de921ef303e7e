"""/audit: the audit log for admins and auditors, filtered (kind, agent, person, tool, decision, dates)
and paged newest first, with an on-demand verification of the whole chain."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from meshclaw.api.audit import audit_filter
from meshclaw.api.audit_trail import audit_log
from meshclaw.api.deps import Context
from meshclaw.audit.store import event_dict, list_events
from meshclaw.audit.verify import Verification, verify
from meshclaw.errors import BadRequestError, MeshclawError
from meshclaw.identity.authorize import Resource, authorize
from meshclaw.metering.queries import as_id
from meshclaw.web.deps import PageViewer
from meshclaw.web.render import render

router = APIRouter(include_in_schema=False)

FILTERS = ("kind", "agent_id", "user_id", "tool", "decision", "since", "until")
PAGE_SIZE = 50


def _id(text: str, field: str) -> int | None:
    if not text.strip():
        return None
    value = as_id(text.strip())
    if value is None:
        raise BadRequestError(f"{field.replace('_', ' ')} must be a number", field=field)
    return value


@router.get("/audit")
def audit_page(
    request: Request,
    viewer: PageViewer,
    context: Context,
    kind: str = "",
    agent_id: str = "",
    user_id: str = "",
    tool: str = "",
    decision: str = "",
    since: str = "",
    until: str = "",
    before: str = "",
    check: str = "",
) -> Response:
    authorize(viewer.principal, "read", Resource(kind="audit"))
    form = {
        "kind": kind,
        "agent_id": agent_id,
        "user_id": user_id,
        "tool": tool,
        "decision": decision,
        "since": since,
        "until": until,
    }
    events: list[dict[str, object]] = []
    next_link: str | None = None
    verification: Verification | None = None
    try:
        where = audit_filter(
            kind,
            _id(agent_id, "agent_id"),
            _id(user_id, "user_id"),
            tool,
            decision,
            since,
            until,
        )
        with context.db.session() as session:
            page = list_events(session, where, before=_id(before, "before"), limit=PAGE_SIZE)
            events = [event_dict(row) for row in page.events]
            if check:
                log = audit_log(context)
                verification = verify(session, key=log.key, checkpoint_file=log.checkpoint_file)
        if page.next_before is not None:
            kept = {name: value for name, value in form.items() if value}
            next_link = "/audit?" + urlencode({**kept, "before": page.next_before})
    except MeshclawError as exc:
        return render(
            request, "audit.html", status=exc.status, error=exc.message, form=form, events=[], next_link=None
        )
    return render(
        request,
        "audit.html",
        form=form,
        events=events,
        next_link=next_link,
        verification=verification,
    )
