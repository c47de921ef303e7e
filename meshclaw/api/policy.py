"""/api/v1/policy: the organization's egress allowlist, admins' pre-approvals per agent, and admins'
effect classes for the MCP tools of an agent's servers.

Everyone reads the allowlist (people should see why their agent was asked to wait); pre-approvals are
shown to whoever may see the agent. Only admins change either, and every change is an audit record in the
same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from meshclaw.agents.spec import AgentSpec
from meshclaw.agents.store import get_version_by_id
from meshclaw.api.audit_trail import record_admin_action
from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.row_ids import RowId
from meshclaw.db.models import Agent
from meshclaw.db.models.identity import User
from meshclaw.errors import NotFoundError
from meshclaw.identity.authorize import Resource, authorize, is_allowed
from meshclaw.identity.principal import Principal
from meshclaw.policy import classifications, store

router = APIRouter(prefix="/policy", tags=["policy"])


class EgressRuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: Literal["domain", "url_prefix"]
    value: str
    note: str
    created_at: datetime


class EgressOut(BaseModel):
    internal_domains: list[str] = Field(description="The organization's own mail domains (its people's)")
    allowed: list[EgressRuleOut]


class EgressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["domain", "url_prefix"] = "domain"
    value: str = Field(min_length=1, max_length=500)
    note: str = Field(default="", max_length=500)


class PreApprovalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    agent_id: int
    tool: str
    constraints: dict[str, Any]
    note: str
    created_at: datetime


class PreApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tool: str = Field(min_length=1, max_length=200, description="A tool name, or a family: deploy_start_*")
    constraints: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description='Fixed argument values, e.g. {"service": "web", "environment": "staging"}',
    )
    note: str = Field(default="", max_length=500)


@router.get("/egress", response_model=EgressOut)
def list_egress(principal: CurrentPrincipal, context: Context) -> EgressOut:
    authorize(principal, "read", Resource(kind="policy"))
    with context.db.session() as session:
        rules = store.active_egress_rules(session, principal.org_id)
        internal = store.internal_domains(session, principal.org_id)
        return EgressOut(
            internal_domains=sorted(internal), allowed=[EgressRuleOut.model_validate(row) for row in rules]
        )


@router.post("/egress", response_model=EgressRuleOut, status_code=201)
def allow_destination(body: EgressIn, principal: CurrentPrincipal, context: Context) -> EgressRuleOut:
    authorize(principal, "create", Resource(kind="policy"))
    with context.db.session() as session:
        row = store.add_egress_rule(session, org_id=principal.org_id, kind=body.kind, value=body.value,
                                    note=body.note, by_user_id=principal.user_id, now=context.clock.now())  # fmt: skip
        record_admin_action(context, session, principal, kind="admin.egress_allowed", target=f"egress_rule:{row.id}",
                            arguments={"kind": row.kind, "value": row.value, "note": row.note})  # fmt: skip
        return EgressRuleOut.model_validate(row)


@router.delete("/egress/{rule_id}", status_code=204)
def remove_destination(rule_id: RowId, principal: CurrentPrincipal, context: Context) -> Response:
    authorize(principal, "delete", Resource(kind="policy"))
    with context.db.session() as session:
        row = store.remove_egress_rule(session, org_id=principal.org_id, rule_id=rule_id,
                                       by_user_id=principal.user_id, now=context.clock.now())  # fmt: skip
        record_admin_action(context, session, principal, kind="admin.egress_removed", target=f"egress_rule:{row.id}",
                            arguments={"kind": row.kind, "value": row.value})  # fmt: skip
    return Response(status_code=204)


def visible_agent(session: Session, principal: Principal, agent_id: int) -> Agent:
    agent = session.get(Agent, agent_id)
    if agent is not None and agent.org_id == principal.org_id:
        owner = session.get(User, agent.owner_user_id)
        resource = Resource(kind="agent", id=agent.id, owner_user_id=agent.owner_user_id,
                            team_id=owner.team_id if owner else None)  # fmt: skip
        if is_allowed(principal, "read", resource):
            return agent
    raise NotFoundError(f"agent {agent_id} does not exist or is not visible to you")


@router.get("/agents/{agent_id}/preapprovals", response_model=list[PreApprovalOut])
def list_preapprovals(agent_id: RowId, principal: CurrentPrincipal, context: Context) -> list[PreApprovalOut]:
    with context.db.session() as session:
        visible_agent(session, principal, agent_id)
        return [PreApprovalOut.model_validate(row) for row in store.active_preapprovals(session, agent_id)]


@router.post("/agents/{agent_id}/preapprovals", response_model=PreApprovalOut, status_code=201)
def preapprove(
    agent_id: RowId, body: PreApprovalIn, principal: CurrentPrincipal, context: Context
) -> PreApprovalOut:
    with context.db.session() as session:
        agent = visible_agent(session, principal, agent_id)
        authorize(principal, "create", Resource(kind="policy"))
        row = store.add_preapproval(session, org_id=principal.org_id, agent_id=agent.id, tool=body.tool,
                                    constraints=body.constraints, note=body.note, by_user_id=principal.user_id,
                                    now=context.clock.now())  # fmt: skip
        record_admin_action(context, session, principal, kind="admin.preapproval_added",
                            target=f"agent:{agent.id}", arguments={"id": row.id, "tool": row.tool,
                                                                   "constraints": row.constraints})  # fmt: skip
        return PreApprovalOut.model_validate(row)


@router.delete("/agents/{agent_id}/preapprovals/{preapproval_id}", status_code=204)
def remove_preapproval(
    agent_id: RowId, preapproval_id: RowId, principal: CurrentPrincipal, context: Context
) -> Response:
    with context.db.session() as session:
        agent = visible_agent(session, principal, agent_id)
        authorize(principal, "delete", Resource(kind="policy"))
        row = store.remove_preapproval(session, org_id=principal.org_id, preapproval_id=preapproval_id,
                                       by_user_id=principal.user_id, now=context.clock.now())  # fmt: skip
        if row.agent_id != agent.id:
            raise NotFoundError(f"no pre-approval with id {preapproval_id} for agent {agent_id}")
        record_admin_action(context, session, principal, kind="admin.preapproval_removed",
                            target=f"agent:{agent.id}", arguments={"id": row.id, "tool": row.tool})  # fmt: skip
    return Response(status_code=204)


class McpToolOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    tool: str
    effect: str
    note: str
    created_at: datetime


class McpServerOut(BaseModel):
    server: str = Field(description="The server's name in the agent's definition")
    label: str = Field(description="Its command line or URL")
    classified: list[McpToolOut] = Field(
        description="Tools an admin classified; the others count as destructive"
    )


class ClassifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server: str = Field(min_length=1, max_length=40)
    tool: str = Field(min_length=1, max_length=200, description="The tool's name as the server lists it")
    effect: str = Field(
        description="read_private, read_untrusted, write_internal, communicate_external, deploy, destructive"
    )
    note: str = Field(default="", max_length=500)


def current_spec(session: Session, agent: Agent) -> AgentSpec:
    if agent.current_version_id is None:
        raise NotFoundError(f"agent {agent.id} has no version yet")
    return get_version_by_id(session, agent.current_version_id).spec()


@router.get("/agents/{agent_id}/mcp-tools", response_model=list[McpServerOut])
def list_mcp_tools(agent_id: RowId, principal: CurrentPrincipal, context: Context) -> list[McpServerOut]:
    with context.db.session() as session:
        spec = current_spec(session, visible_agent(session, principal, agent_id))
        keyed = {classifications.server_key(server): server for server in spec.mcp_servers}
        found = classifications.active(session, principal.org_id, keyed)
        return [
            McpServerOut(server=server.name, label=classifications.server_label(server),
                         classified=[McpToolOut.model_validate(row) for row in found.get(key, [])])
            for key, server in keyed.items()
        ]  # fmt: skip


@router.post("/agents/{agent_id}/mcp-tools", response_model=McpToolOut, status_code=201)
def classify_mcp_tool(
    agent_id: RowId, body: ClassifyIn, principal: CurrentPrincipal, context: Context
) -> McpToolOut:
    with context.db.session() as session:
        agent = visible_agent(session, principal, agent_id)
        authorize(principal, "create", Resource(kind="policy"))
        server = classifications.find_server(current_spec(session, agent), body.server)
        row = classifications.classify(session, org_id=principal.org_id, server=server, tool=body.tool,
                                       effect=body.effect, note=body.note, by_user_id=principal.user_id,
                                       now=context.clock.now())  # fmt: skip
        record_admin_action(context, session, principal, kind="admin.tool_classified", target=f"agent:{agent.id}",
                            arguments={"server": server.name, "server_label": row.server_label, "tool": row.tool,
                                       "effect": row.effect})  # fmt: skip
        return McpToolOut.model_validate(row)
