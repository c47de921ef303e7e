"""/audit: the audit log for admins and auditors, filtered (kind, agent, person, tool, decision, dates)
and paged newest first, with an on-demand verification of the whole chain."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from meshclaw.agents.store import list_agents
from meshclaw.api.audit import audit_filter
from meshclaw.api.audit_trail import audit_log
from meshclaw.api.deps import Context
from meshclaw.audit.store import event_dict, list_events
from meshclaw.audit.verify import Verification, verify
from meshclaw.errors import BadRequestError, MeshclawError
from meshclaw.identity.authorize import Resource, authorize
from meshclaw.identity.store import user_by_email
from meshclaw.metering.labels import agent_labels, group_labels
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


def _person(session: Session, org_id: int, text: str) -> int | None:
    """The person filter: an email (what an auditor knows) or a user id."""
    text = text.strip()
    if not text or as_id(text) is not None:
        return _id(text, "user_id")
    user = user_by_email(session, org_id, text)
    if user is None:
        raise BadRequestError(f"nobody in this organization has the email {text[:200]!r}", field="user_id")
    return user.id


def _names(session: Session, events: list[dict[str, Any]]) -> tuple[dict[Any, str], dict[int, str]]:
    """Emails for the people and "name (owner)" for the agents the page's records name, instead of ids."""
    people = {
        e[field] for e in events for field in ("on_behalf_of_user_id", "approver_user_id") if e.get(field)
    }
    agents = {e["actor_agent_id"] for e in events if e.get("actor_agent_id") is not None}
    return group_labels(session, "user", people), agent_labels(session, agents)


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
    events: list[dict[str, Any]] = []
    next_link: str | None = None
    verification: Verification | None = None
    org_id = viewer.principal.org_id
    with context.db.session() as session:
        agents = [{"id": a.id, "label": a.label} for a in list_agents(session, org_id)]
        try:
            where = audit_filter(
                kind,
                _id(agent_id, "agent_id"),
                _person(session, org_id, user_id),
                tool,
                decision,
                since,
                until,
            )
            page = list_events(session, where, before=_id(before, "before"), limit=PAGE_SIZE)
            events = [event_dict(row) for row in page.events]
            people, agent_names = _names(session, events)
            if check:
                log = audit_log(context)
                verification = verify(session, key=log.key, checkpoint_file=log.checkpoint_file)
        except MeshclawError as exc:
            return render(request, "audit.html", status=exc.status, error=exc.message, form=form, events=[],
                          next_link=None, verification=None, agents=agents, people={}, agent_names={})  # fmt: skip
    if page.next_before is not None:
        kept = {name: value for name, value in form.items() if value}
        next_link = "/audit?" + urlencode({**kept, "before": page.next_before})
    return render(
        request,
        "audit.html",
        form=form,
        events=events,
        next_link=next_link,
        verification=verification,
        agents=agents,
        people=people,
        agent_names=agent_names,
    )
