"""/api/v1/agents: agent definitions and their immutable versions.

Everyone creates and changes their own agents; admins anyone's (and may create one for another person
with `owner`); managers read their teams' agents; auditors read all. An agent the caller may not read
answers 404, one they may read but not change 403 (`identity.authorize`, `agents.service`).

A definition is sent as JSON in the shape of the agent file (`spec`); the owner is never part of it.
`PUT /agents/{id}` saves a new version only when the definition changed (`outcome: unchanged` otherwise),
so a client can apply its file on every deploy without piling up versions. Every save that writes a
version is an `admin.agent_saved` audit record in the same transaction (`api.agent_audit`): the routes,
the web forms and the CLI all save through `save_definition` or `save_version` here.

`GET /agents/{id}` and the PUT answer with the current version as the `ETag`; a PUT with `If-Match` saves
only over that version, else answers 412 and saves nothing (`api.preconditions`). Without `If-Match` a PUT
replaces whatever version is current, as it always did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from meshclaw.agents import service, store
from meshclaw.agents.files import spec_from_data
from meshclaw.agents.service import Checks
from meshclaw.agents.spec import AgentSpec
from meshclaw.agents.store import AgentRecord, Applied, ApplyOutcome, StaleVersionError, VersionRecord
from meshclaw.agents.templates import Template, builtin_templates
from meshclaw.api import preconditions
from meshclaw.api.agent_audit import record_agent_saved
from meshclaw.api.audit_trail import record_admin_action
from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.row_ids import RowId
from meshclaw.context import AppContext
from meshclaw.db.models import User
from meshclaw.identity.authorize import Resource, authorize
from meshclaw.identity.principal import Principal
from meshclaw.providers.live import LiveRoutes

router = APIRouter(prefix="/agents", tags=["agents"])

_SPEC = "The definition, in the shape of an agent file (see examples/agents/); never names the owner"


class AgentOut(BaseModel):
    id: int
    name: str
    owner_user_id: int
    owner_email: str
    enabled: bool = Field(description="False: the kill switch is on, the agent starts no run")
    current_version: int | None
    purpose: str
    model: str | None = Field(description="The model's name, or null for an agent that never calls one")
    created_at: datetime
    updated_at: datetime


class VersionOut(BaseModel):
    number: int
    spec_digest: str = Field(description="SHA-256 of the definition's canonical JSON")
    created_by_user_id: int | None
    created_at: datetime
    spec: dict[str, Any]


class VersionSummary(BaseModel):
    number: int
    spec_digest: str
    created_by_user_id: int | None
    created_at: datetime


class AgentDetail(AgentOut):
    spec: dict[str, Any] | None = Field(description="The current version's definition")
    versions: list[VersionSummary] = Field(description="Newest first")


class AppliedOut(BaseModel):
    outcome: ApplyOutcome = Field(description="created, updated (a new version) or unchanged")
    agent: AgentOut
    version: VersionOut


class AgentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: dict[str, Any] = Field(description=_SPEC)
    owner: str | None = Field(
        default=None, max_length=320, description="Admins only: the email or id of the person it acts for"
    )


class AgentApply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: dict[str, Any] = Field(description=_SPEC + "; its name must be the agent's")


class TemplateSettingOut(BaseModel):
    name: str
    label: str
    help: str
    default: str
    required: bool


class TemplateOut(BaseModel):
    name: str
    title: str
    description: str
    settings: list[TemplateSettingOut]


class FromTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str = Field(max_length=100)
    name: str = Field(max_length=63, description="The new agent's name")
    settings: dict[str, str] = Field(default_factory=dict, description="The template's settings")
    owner: str | None = Field(default=None, max_length=320, description="Admins only, as for create")


def agent_out(agent: AgentRecord, current: VersionRecord | None) -> AgentOut:
    data = current.spec_data if current is not None else {}
    model = data.get("model")
    return AgentOut(
        id=agent.id,
        name=agent.name,
        owner_user_id=agent.owner_user_id,
        owner_email=agent.owner_email,
        enabled=agent.enabled,
        current_version=agent.current_version,
        purpose=str(data.get("purpose", "")),
        model=str(model["name"]) if isinstance(model, dict) else None,
        created_at=agent.created_at,
        updated_at=agent.updated_at,
    )


def version_out(version: VersionRecord) -> VersionOut:
    return VersionOut(
        number=version.number,
        spec_digest=version.spec_digest,
        created_by_user_id=version.created_by_user_id,
        created_at=version.created_at,
        spec=version.spec_data,
    )


def applied_out(applied: Applied) -> AppliedOut:
    return AppliedOut(
        outcome=applied.outcome,
        agent=agent_out(applied.agent, applied.version),
        version=version_out(applied.version),
    )


def template_out(template: Template) -> TemplateOut:
    return TemplateOut(
        name=template.name,
        title=template.title,
        description=template.description,
        settings=[
            TemplateSettingOut(
                name=s.name, label=s.label, help=s.help, default=s.default, required=s.required
            )
            for s in template.settings
        ],
    )


def agent_detail(session: Session, agent: AgentRecord) -> AgentDetail:
    current = current_version(session, agent)
    return AgentDetail(
        **agent_out(agent, current).model_dump(),
        spec=current.spec_data if current is not None else None,
        versions=[
            VersionSummary(
                number=v.number,
                spec_digest=v.spec_digest,
                created_by_user_id=v.created_by_user_id,
                created_at=v.created_at,
            )
            for v in store.list_versions(session, agent.id)
        ],
    )


def checks_for(request: Request) -> Checks:
    """What a definition is checked against in this process: the routing table and the registered tools.

    The table is re-read here rather than taken from the cache: saving a definition is a person's action,
    one small read, and a provider added a moment ago by the CLI or another process must count."""
    routes = request.app.state.provider_routes
    assert isinstance(routes, LiveRoutes)
    return service.deployment_checks(routes.reload())


def save_definition(
    context: AppContext,
    session: Session,
    principal: Principal | None,
    *,
    org_id: int,
    owner: User,
    spec: AgentSpec,
    checks: Checks,
    create_only: bool = False,
    expected_version: int | None = None,
) -> Applied:
    """Save a definition by its owner and name (`service.apply_spec`) and audit it in the same transaction:
    what the create routes, the web's create forms and `meshclaw agents apply` (`principal` None) share."""
    applied = service.apply_spec(
        session,
        org_id=org_id,
        principal=principal,
        spec=spec,
        owner=owner,
        checks=checks,
        now=context.clock.now(),
        create_only=create_only,
        expected_version=expected_version,
    )
    record_agent_saved(context, session, principal, applied)
    return applied


def save_version(
    context: AppContext,
    session: Session,
    principal: Principal,
    *,
    agent: AgentRecord,
    spec: AgentSpec,
    checks: Checks,
    expected_version: int | None,
) -> Applied:
    """A new version of an existing agent (`service.apply_to_agent`), audited in the same transaction:
    what the PUT and the web's edit form share."""
    applied = service.apply_to_agent(
        session,
        principal=principal,
        agent=agent,
        spec=spec,
        checks=checks,
        now=context.clock.now(),
        expected_version=expected_version,
    )
    record_agent_saved(context, session, principal, applied)
    return applied


def create_new(
    request: Request, context: AppContext, principal: Principal, spec: AgentSpec, *, owner: str | None = None
) -> AppliedOut:
    """Create an agent with version 1 for the caller (or, for an admin, the `owner` named): what the API's
    create routes and the web forms share. 409 if the owner already has an agent of that name."""
    with context.db.session() as session:
        person = service.resolve_owner(session, principal.org_id, principal, owner)
        applied = save_definition(
            context,
            session,
            principal,
            org_id=principal.org_id,
            owner=person,
            spec=spec,
            checks=checks_for(request),
            create_only=True,
        )
        return applied_out(applied)


def current_version(session: Session, agent: AgentRecord) -> VersionRecord | None:
    if agent.current_version_id is None:
        return None
    return store.get_version_by_id(session, agent.current_version_id)


@router.get("", response_model=list[AgentOut])
def list_agents(principal: CurrentPrincipal, context: Context, owner: str | None = None) -> list[AgentOut]:
    """The agents you may see (yours; a manager's teams'; everyone's for admins and auditors), by owner
    and name. `owner` (an email or id) narrows to one person's."""
    authorize(principal, "read", Resource(kind="agent", owner_user_id=principal.user_id))
    with context.db.session() as session:
        agents = service.visible_agents(session, principal.org_id, principal, owner=owner)
        return [agent_out(agent, current_version(session, agent)) for agent in agents]


@router.get("/templates", response_model=list[TemplateOut])
def list_templates(principal: CurrentPrincipal) -> list[TemplateOut]:
    """The templates an agent can be created from."""
    authorize(principal, "read", Resource(kind="agent", owner_user_id=principal.user_id))
    return [template_out(template) for template in builtin_templates()]


@router.post("", response_model=AppliedOut, status_code=201)
def create_agent(
    body: AgentCreate, request: Request, principal: CurrentPrincipal, context: Context
) -> AppliedOut:
    """Create an agent with version 1. 409 if the owner already has an agent of that name (PUT changes it)."""
    spec = spec_from_data(body.spec, source="spec")
    return create_new(request, context, principal, spec, owner=body.owner)


@router.post("/from-template", response_model=AppliedOut, status_code=201)
def create_from_template(
    body: FromTemplate, request: Request, principal: CurrentPrincipal, context: Context
) -> AppliedOut:
    """Create an agent from a template (`GET /agents/templates` lists them and their settings)."""
    spec = builtin_templates().get(body.template).spec(body.name, body.settings)
    return create_new(request, context, principal, spec, owner=body.owner)


@router.get("/{agent_id}", response_model=AgentDetail)
def read_agent(
    agent_id: RowId, response: Response, principal: CurrentPrincipal, context: Context
) -> AgentDetail:
    """The agent with its current definition and its versions (newest first). The `ETag` header is the
    current version (`"3"`): send it back as `If-Match` on the PUT that changes this definition."""
    with context.db.session() as session:
        detail = agent_detail(session, service.visible_agent(session, principal.org_id, principal, agent_id))
    if detail.current_version is not None:
        response.headers["ETag"] = preconditions.etag(detail.current_version)
    return detail


_IF_MATCH = (
    'The ETag of the version your definition was made from (`"3"`, from GET); if another version is '
    "current by then, nothing is saved and the answer is 412. Without it, the PUT replaces whatever version "
    "is current, even one saved after you read yours: send it."
)


@router.put(
    "/{agent_id}",
    response_model=AppliedOut,
    responses={412: {"description": "If-Match names a version that is no longer current; nothing saved"}},
)
def apply_agent(
    agent_id: RowId,
    body: AgentApply,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    context: Context,
    if_match: Annotated[str | None, Header(alias="If-Match", description=_IF_MATCH)] = None,
) -> AppliedOut | Response:
    """Save a new version if the definition changed; `outcome: unchanged` and no new version otherwise.
    The answer's `ETag` is the version now current."""
    spec = spec_from_data(body.spec, source="spec")
    try:
        with context.db.session() as session:
            agent = service.visible_agent(session, principal.org_id, principal, agent_id, action="update")
            applied = save_version(
                context,
                session,
                principal,
                agent=agent,
                spec=spec,
                checks=checks_for(request),
                expected_version=preconditions.expected_version(if_match, agent.current_version),
            )
    except StaleVersionError as exc:
        if if_match is None or exc.expected is None:
            raise  # no version asked for (none, or `*`): a save that lost a race is a 409, as before
        return preconditions.precondition_failed(
            _stale_message(agent_id, if_match, exc), current=_number(exc)
        )
    response.headers["ETag"] = preconditions.etag(applied.version.number)
    return applied_out(applied)


def _number(exc: StaleVersionError) -> int | None:
    return exc.current.number if exc.current is not None else None


def _stale_message(agent_id: int, if_match: str, exc: StaleVersionError) -> str:
    if exc.current is None:
        return (
            f"agent {agent_id} has no version that If-Match ({if_match[:40]}) could name; nothing was saved"
        )
    current = exc.current
    tag = preconditions.etag(current.number)
    return (
        f"agent {agent_id} is at version {current.number} ({tag}), not the version If-Match names "
        f"({if_match[:40]}): it was saved {current.created_at:%Y-%m-%dT%H:%M:%SZ} by "
        f"{exc.by or 'the operator (CLI)'}; nothing was saved: GET the agent, make your change to that "
        f"definition and PUT it with If-Match: {tag}"
    )


@router.get("/{agent_id}/versions", response_model=list[VersionOut])
def read_versions(agent_id: RowId, principal: CurrentPrincipal, context: Context) -> list[VersionOut]:
    """Every version with its definition, newest first."""
    with context.db.session() as session:
        agent = service.visible_agent(session, principal.org_id, principal, agent_id)
        return [version_out(v) for v in store.list_versions(session, agent.id)]


@router.get("/{agent_id}/versions/{number}", response_model=VersionOut)
def read_version(agent_id: RowId, number: RowId, principal: CurrentPrincipal, context: Context) -> VersionOut:
    with context.db.session() as session:
        agent = service.visible_agent(session, principal.org_id, principal, agent_id)
        return version_out(store.get_version(session, agent.id, number))


def record_switch(
    context: AppContext, session: Session, principal: Principal | None, *, agent_id: int, enabled: bool
) -> None:
    """The audit record of enabling or disabling an agent, in the change's transaction."""
    kind = "admin.agent_enabled" if enabled else "admin.agent_disabled"
    record_admin_action(context, session, principal, kind=kind, target=f"agent:{agent_id}")


def _switch(agent_id: int, principal: CurrentPrincipal, context: Context, *, enabled: bool) -> AgentOut:
    with context.db.session() as session:
        agent = service.set_enabled(
            session,
            principal.org_id,
            principal=principal,
            agent_id=agent_id,
            enabled=enabled,
            now=context.clock.now(),
        )
        record_switch(context, session, principal, agent_id=agent_id, enabled=enabled)
        return agent_out(agent, current_version(session, agent))


@router.post("/{agent_id}/enable", response_model=AgentOut)
def enable_agent(agent_id: RowId, principal: CurrentPrincipal, context: Context) -> AgentOut:
    return _switch(agent_id, principal, context, enabled=True)


@router.post("/{agent_id}/disable", response_model=AgentOut)
def disable_agent(agent_id: RowId, principal: CurrentPrincipal, context: Context) -> AgentOut:
    """The kill switch: the agent keeps its definition and versions but starts no run."""
    return _switch(agent_id, principal, context, enabled=False)
