"""/policy: the organization's egress allowlist and every agent's pre-approvals. Everyone may read it (so
people see why their agent was asked to wait); admins add and remove entries, each change audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.agents.store import list_agents
from meshclaw.api.audit_trail import record_admin_action
from meshclaw.api.deps import Context
from meshclaw.api.policy import visible_agent
from meshclaw.api.row_ids import RowId
from meshclaw.db.models import Agent, PreApprovalRow
from meshclaw.db.models.identity import User
from meshclaw.errors import InvalidInputError, MeshclawError
from meshclaw.identity.authorize import Resource, authorize, is_allowed
from meshclaw.metering.queries import as_id
from meshclaw.policy import store
from meshclaw.web.deps import FormActor, PageViewer, Viewer
from meshclaw.web.render import form_result, render

router = APIRouter(include_in_schema=False)

NOTICES = {"changed": "Policy changed."}


def _values(context: Context, viewer: Viewer) -> dict[str, Any]:
    org_id = viewer.principal.org_id
    with context.db.session() as session:
        rules = store.active_egress_rules(session, org_id)
        internal = sorted(store.internal_domains(session, org_id))
        query = (
            select(PreApprovalRow, Agent.name, User.email)
            .join(Agent, Agent.id == PreApprovalRow.agent_id)
            .join(User, User.id == Agent.owner_user_id)
            .where(PreApprovalRow.org_id == org_id, PreApprovalRow.removed_at.is_(None))
            .order_by(Agent.name, PreApprovalRow.id)
        )
        preapprovals = [
            {"id": row.id, "agent_id": row.agent_id, "agent": f"{email}/{name}", "tool": row.tool,
             "constraints": dict(row.constraints), "note": row.note}
            for row, name, email in session.execute(query).all()
            if _sees(session, viewer, row.agent_id)
        ]  # fmt: skip
        can_change = is_allowed(viewer.principal, "create", Resource(kind="policy"))
        # Those who may pre-approve pick the agent by name and owner rather than type its id.
        agents = [{"id": a.id, "label": a.label} for a in list_agents(session, org_id)] if can_change else []
        return {
            "internal_domains": internal,
            "rules": [{"id": r.id, "kind": r.kind, "value": r.value, "note": r.note} for r in rules],
            "preapprovals": preapprovals,
            "agents": agents,
            "can_change": can_change,
        }


def _sees(session: Session, viewer: Viewer, agent_id: int) -> bool:
    try:
        visible_agent(session, viewer.principal, agent_id)
    except MeshclawError:
        return False
    return True


@router.get("/policy")
def policy_page(
    request: Request, viewer: PageViewer, context: Context, notice: str | None = None
) -> Response:
    authorize(viewer.principal, "read", Resource(kind="policy"))
    return render(
        request, "policy.html", form={}, notice=NOTICES.get(notice or ""), **_values(context, viewer)
    )


def _apply(
    request: Request,
    context: Context,
    viewer: Viewer,
    change: Callable[[Session], str],
    *,
    form: dict[str, str] | None = None,
) -> Response:
    """Run one audited change in a transaction and answer with the panel: its notice, or the error that
    says what to fix (the form kept as typed)."""
    notice = error = None
    status = 200
    try:
        with context.db.session() as session:
            notice = change(session)
        form = {}
    except MeshclawError as exc:
        error, status = exc.message, exc.status
    return form_result(request, page_template="policy.html", panel_template="_policy_panel.html",
                       redirect_to="/policy?notice=changed", error=error, notice=notice, status=status,
                       form=form or {}, **_values(context, viewer))  # fmt: skip


@router.post("/policy/egress")
def allow_destination(
    request: Request,
    viewer: FormActor,
    context: Context,
    value: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    principal = viewer.principal
    authorize(principal, "create", Resource(kind="policy"))

    def change(session: Session) -> str:
        kind = "url_prefix" if "://" in value else "domain"
        row = store.add_egress_rule(session, org_id=principal.org_id, kind=kind, value=value, note=note,
                                    by_user_id=principal.user_id, now=context.clock.now())  # fmt: skip
        record_admin_action(context, session, principal, kind="admin.egress_allowed", target=f"egress_rule:{row.id}",
                            arguments={"kind": row.kind, "value": row.value, "note": row.note})  # fmt: skip
        return f"{row.value} allowed; runs from now on may send there without asking"

    return _apply(request, context, viewer, change, form={"value": value, "note": note})


@router.post("/policy/egress/{rule_id}/remove")
def remove_destination(rule_id: RowId, request: Request, viewer: FormActor, context: Context) -> Response:
    principal = viewer.principal
    authorize(principal, "delete", Resource(kind="policy"))

    def change(session: Session) -> str:
        row = store.remove_egress_rule(session, org_id=principal.org_id, rule_id=rule_id,
                                       by_user_id=principal.user_id, now=context.clock.now())  # fmt: skip
        record_admin_action(context, session, principal, kind="admin.egress_removed", target=f"egress_rule:{row.id}",
                            arguments={"kind": row.kind, "value": row.value})  # fmt: skip
        return f"{row.value} removed; runs from now on ask before sending there"

    return _apply(request, context, viewer, change)


def parse_constraints(text: str) -> dict[str, str]:
    """`service=web` per line (or separated by commas) -> {"service": "web"}."""
    fixed: dict[str, str] = {}
    for item in (part.strip() for line in text.splitlines() for part in line.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(
                f"'{item}' is not NAME=VALUE: write e.g. environment=staging", field="constraints"
            )
        fixed[key.strip()] = value.strip()
    return fixed


@router.post("/policy/preapprovals")
def preapprove(
    request: Request,
    viewer: FormActor,
    context: Context,
    agent_id: Annotated[str, Form()] = "",
    tool: Annotated[str, Form()] = "",
    constraints: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    principal = viewer.principal
    authorize(principal, "create", Resource(kind="policy"))

    def change(session: Session) -> str:
        chosen = as_id(agent_id)
        if chosen is None:
            raise InvalidInputError("choose the agent the pre-approval is for", field="agent_id")
        agent = visible_agent(session, principal, chosen)
        row = store.add_preapproval(session, org_id=principal.org_id, agent_id=agent.id, tool=tool.strip(),
                                    constraints=parse_constraints(constraints), note=note,
                                    by_user_id=principal.user_id, now=context.clock.now())  # fmt: skip
        record_admin_action(context, session, principal, kind="admin.preapproval_added", target=f"agent:{agent.id}",
                            arguments={"id": row.id, "tool": row.tool, "constraints": row.constraints})  # fmt: skip
        return f"pre-approved {row.tool} for {agent.name}"

    form = {"agent_id": agent_id, "tool": tool, "constraints": constraints, "note": note}
    return _apply(request, context, viewer, change, form=form)


@router.post("/policy/preapprovals/{preapproval_id}/remove")
def remove_preapproval(
    preapproval_id: RowId, request: Request, viewer: FormActor, context: Context
) -> Response:
    principal = viewer.principal
    authorize(principal, "delete", Resource(kind="policy"))

    def change(session: Session) -> str:
        row = store.remove_preapproval(session, org_id=principal.org_id, preapproval_id=preapproval_id,
                                       by_user_id=principal.user_id, now=context.clock.now())  # fmt: skip
        record_admin_action(context, session, principal, kind="admin.preapproval_removed",
                            target=f"agent:{row.agent_id}", arguments={"id": row.id, "tool": row.tool})  # fmt: skip
        return f"pre-approval of {row.tool} removed; the agent asks again from its next run"

    return _apply(request, context, viewer, change)
