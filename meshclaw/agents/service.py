"""Agents as the interfaces use them: who may see and change which agent, whose an agent is, and the checks
a definition must pass against this deployment before it is saved.

The spec (agents.spec) checks what a definition says on its own; this module checks what it names
elsewhere: a model a configured provider serves, tools a registry holds. The API, the CLI and the web
pages all save through `apply_spec`, so they give the same errors and write the same versions.

`principal=None` means the operator's shell (the CLI), which acts with the database's full rights, the
way `identity.visibility` treats it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.agents import store
from meshclaw.agents.spec import AgentSpec
from meshclaw.agents.store import AgentRecord, Applied
from meshclaw.db.models import User
from meshclaw.db.row_ids import row_id_of
from meshclaw.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from meshclaw.identity import store as identity_store
from meshclaw.identity.authorize import Action, Resource, authorize, is_allowed, reach
from meshclaw.identity.principal import Principal, Role
from meshclaw.identity.visibility import person_in_reach, read_scope
from meshclaw.providers.registry import Routes


class NamedTool(Protocol):
    @property
    def name(self) -> str: ...


class ToolCatalog(Protocol):
    """The hook for the tool registry (meshclaw.tools.registry.ToolRegistry fits it): which registered
    tools a grant's pattern names. Without a catalog, grants are checked by their syntax only."""

    def matching(self, patterns: Iterable[str]) -> Sequence[NamedTool]: ...


@dataclass(frozen=True, kw_only=True)
class Checks:
    """What a definition is checked against besides itself."""

    routes: Routes
    """The models configured providers serve."""
    tools: ToolCatalog | None = None
    """None until a tool registry is passed in: then unknown tool names are accepted if well-formed."""


def deployment_checks(routes: Routes) -> Checks:
    """The checks of a running deployment: its routing table and the tools registered in it (built-in
    and every connector's)."""
    from meshclaw.accounts.tools import catalog_registry

    return Checks(routes=routes, tools=catalog_registry())


def check_model(spec: AgentSpec, routes: Routes) -> None:
    if spec.model is None:
        return
    name = spec.model.name
    provider = routes.provider_for(name)
    if provider is None:
        served = sorted(model for model, _ in routes.models())
        have = (
            f"configured models: {', '.join(served)}; pick one of those, "
            if served
            else "no provider is configured yet; "
        )
        raise InvalidInputError(
            f"model.name: no enabled provider serves model '{name}'; {have}leave 'model' out for an agent "
            "that never calls a model, or add a provider: `meshclaw providers add NAME --kind openai "
            f"--base-url URL --api-key-env VAR --models {name}` (or on the /providers page)",
            field="model.name",
        )
    if spec.model.provider is not None and spec.model.provider != provider.name:
        raise InvalidInputError(
            f"model.provider: model '{name}' is served by provider '{provider.name}', not "
            f"'{spec.model.provider}'; name '{provider.name}' or leave 'provider' out",
            field="model.provider",
        )


def check_tools(spec: AgentSpec, tools: ToolCatalog | None) -> None:
    if tools is None:
        return
    mcp_prefixes = tuple(f"{server.name}_" for server in spec.mcp_servers)
    for index, grant in enumerate(spec.tools):
        # MCP tools are discovered per run, not registered: a grant of `<server>_…` names one of them.
        if grant.tool.startswith(mcp_prefixes):
            continue
        if not tools.matching([grant.tool]):
            field = f"tools[{index}].tool"
            known = sorted(tool.name for tool in tools.matching(["*"]))
            shown = ", ".join(known[:20]) + (", …" if len(known) > 20 else "") if known else "none"
            raise InvalidInputError(
                f"{field}: no registered tool matches '{grant.tool}' (registered: {shown}); a connector's "
                "tools can be granted once the connector is set up",
                field=field,
            )


def check_accounts(session: Session, *, org_id: int, owner_user_id: int, spec: AgentSpec) -> None:
    """Each grant of a connector's tools names an account of the owner's or the organization's."""
    from meshclaw.accounts.grants import check_grant_accounts

    grants = [(grant.tool, grant.account) for grant in spec.tools]
    check_grant_accounts(session, org_id=org_id, owner_user_id=owner_user_id, grants=grants)


def check_spec(spec: AgentSpec, checks: Checks) -> None:
    check_model(spec, checks.routes)
    check_tools(spec, checks.tools)


def agent_resource(agent: AgentRecord) -> Resource:
    return Resource(kind="agent", id=agent.id, owner_user_id=agent.owner_user_id, team_id=agent.owner_team_id)


def visible_agent(
    session: Session, org_id: int, principal: Principal | None, agent_id: int, *, action: Action = "read"
) -> AgentRecord:
    """The agent if the principal may read it (404 otherwise, so ids leak nothing) and, for another
    action, may also do that (403)."""
    try:
        agent = store.get_agent(session, org_id, agent_id)
    except NotFoundError:
        raise NotFoundError(f"agent {agent_id} does not exist or is not visible to you") from None
    if principal is None:
        return agent
    if not is_allowed(principal, "read", agent_resource(agent)):
        raise NotFoundError(f"agent {agent_id} does not exist or is not visible to you")
    if action != "read":
        authorize(principal, action, agent_resource(agent))
    return agent


def visible_agents(
    session: Session, org_id: int, principal: Principal | None, *, owner: str | None = None
) -> list[AgentRecord]:
    """The agents the principal may read, optionally only one person's (`owner`: an id or email)."""
    owner_ids: list[int] | None = None
    if owner is not None:
        person = person_in_reach(session, org_id, owner, principal=principal, kind="agent")
        owner_ids = [person.id]
    if principal is None:
        return store.list_agents(session, org_id, owner_user_ids=owner_ids)
    scope = read_scope(principal, "agent")
    if scope.everyone or owner_ids is not None:
        return store.list_agents(session, org_id, owner_user_ids=owner_ids)
    assert scope.user_id is not None
    return store.list_agents(
        session,
        org_id,
        owner_user_ids=[scope.user_id],
        team_ids=sorted(scope.team_ids) if scope.team_ids else None,
    )


def resolve_owner(session: Session, org_id: int, principal: Principal | None, owner: str | None) -> User:
    """Whose agent a new definition is: the caller's own, or (admins, and the operator's CLI) the person
    named by `owner` (an email or id). A file never says who owns it."""
    if owner is None or not owner.strip():
        if principal is None:
            return _sole_admin(session, org_id)
        return identity_store.get_user(session, org_id, principal.user_id)
    ref = owner.strip()
    if principal is not None and reach(principal, "create", "agent") != "all":
        if ref.lower() in (principal.email, str(principal.user_id)):
            return identity_store.get_user(session, org_id, principal.user_id)
        raise PermissionDeniedError(
            "only admins create agents for someone else; leave 'owner' out", field="owner"
        )
    person: User | None
    if ref.isascii() and ref.isdigit():
        owner_id = row_id_of(ref)
        person = session.get(User, owner_id) if owner_id is not None else None
        person = person if person is not None and person.org_id == org_id else None
    else:
        person = identity_store.user_by_email(session, org_id, ref)
    if person is None:
        raise NotFoundError(
            f"no user with email or id '{ref[:80]}'; `meshclaw users list` shows them", field="owner"
        )
    if not person.active:
        raise InvalidInputError(
            f"user {person.email} is deactivated and cannot own a new agent", field="owner"
        )
    return person


def _sole_admin(session: Session, org_id: int) -> User:
    admins = session.scalars(
        select(User)
        .where(User.org_id == org_id, User.role == Role.ADMIN.value, User.active.is_(True))
        .limit(2)
    ).all()
    if len(admins) != 1:
        raise InvalidInputError(
            "say whose agent this is: --owner EMAIL (the agent acts for that person)", field="owner"
        )
    return admins[0]


def apply_spec(
    session: Session,
    *,
    org_id: int,
    principal: Principal | None,
    spec: AgentSpec,
    owner: User,
    checks: Checks,
    now: datetime,
    create_only: bool = False,
    expected_version: int | None = None,
) -> Applied:
    """Check and save: a new agent (version 1), a new version, or nothing when the spec is unchanged.
    `expected_version`: save only over that version of an existing agent (`store.save_spec`)."""
    if principal is not None:
        authorize(principal, "create", Resource(kind="agent", owner_user_id=owner.id, team_id=owner.team_id))
        existing = store.agent_by_name(session, org_id, owner.id, spec.name)
        if existing is not None:
            authorize(principal, "update", agent_resource(existing))
    check_spec(spec, checks)
    check_accounts(session, org_id=org_id, owner_user_id=owner.id, spec=spec)
    return store.save_spec(
        session,
        org_id=org_id,
        owner_user_id=owner.id,
        spec=spec,
        created_by_user_id=principal.user_id if principal is not None else None,
        now=now,
        create_only=create_only,
        expected_version=expected_version,
    )


def apply_to_agent(
    session: Session,
    *,
    principal: Principal | None,
    agent: AgentRecord,
    spec: AgentSpec,
    checks: Checks,
    now: datetime,
    expected_version: int | None = None,
) -> Applied:
    """A new version of an existing agent (PUT): the name cannot change, a rename would orphan its runs.
    `expected_version`: the version the definition was made from; another current version is a
    `store.StaleVersionError` and nothing is saved."""
    if spec.name != agent.name:
        raise InvalidInputError(
            f"name: this agent is named '{agent.name}'; an agent cannot be renamed (create a new one)",
            field="name",
        )
    if principal is not None:
        authorize(principal, "update", agent_resource(agent))
    check_spec(spec, checks)
    check_accounts(session, org_id=agent.org_id, owner_user_id=agent.owner_user_id, spec=spec)
    return store.save_spec(
        session,
        org_id=agent.org_id,
        owner_user_id=agent.owner_user_id,
        spec=spec,
        created_by_user_id=principal.user_id if principal is not None else None,
        now=now,
        expected_version=expected_version,
    )


def set_enabled(
    session: Session, org_id: int, *, principal: Principal | None, agent_id: int, enabled: bool, now: datetime
) -> AgentRecord:
    visible_agent(session, org_id, principal, agent_id, action="update")
    return store.set_enabled(session, agent_id, enabled=enabled, now=now)
