"""`meshclaw policy egress list|allow|remove` and `meshclaw policy preapprovals|preapprove|unapprove`:
the policy gate's organization rows from the server's shell, audited like the API's changes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from meshclaw.cli.state import fails_cleanly, open_context
from meshclaw.db.row_ids import MAX_ROW_ID, row_id_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

policy_app = typer.Typer(help="What agents may do without asking: allowed destinations, pre-approvals.",
                         no_args_is_help=True)  # fmt: skip
egress_app = typer.Typer(
    help="Destinations data may go to without a person's approval.", no_args_is_help=True
)
policy_app.add_typer(egress_app, name="egress")

_AGENT_HELP = "The agent: its id, or OWNER_EMAIL/NAME"


def _agent_id(session: Session, org_id: int, agent: str) -> int:
    from meshclaw.agents.store import agent_by_name
    from meshclaw.db.models import Agent
    from meshclaw.errors import NotFoundError
    from meshclaw.identity import store

    if agent.isascii() and agent.isdigit():
        agent_id = row_id_of(agent)
        row = session.get(Agent, agent_id) if agent_id is not None else None
        if row is not None and row.org_id == org_id:
            return row.id
        raise NotFoundError(f"no agent with id {agent}")
    email, _, name = agent.rpartition("/")
    if not email:
        raise NotFoundError(f"'{agent}' names no agent: give its id or OWNER_EMAIL/NAME")
    user = store.user_by_email(session, org_id, email)
    if user is None:
        raise NotFoundError(f"no person with email {email}")
    record = agent_by_name(session, org_id, user.id, name)
    if record is None:
        raise NotFoundError(f"{email} has no agent named '{name}'")
    return record.id


@egress_app.command("list")
@fails_cleanly
def egress_list(ctx: typer.Context) -> None:
    """The organization's own domains and every allowed destination."""
    from meshclaw.policy import store

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        internal = sorted(store.internal_domains(session, org_id))
        rows = [(row.id, row.kind, row.value, row.note) for row in store.active_egress_rules(session, org_id)]
    typer.echo(f"internal domains (from people's addresses): {', '.join(internal) or '(none yet)'}")
    for rule_id, kind, value, note in rows:
        typer.echo(f"{rule_id:>5}  {kind:<10}  {value}{'  # ' + note if note else ''}")


@egress_app.command("allow")
@fails_cleanly
def egress_allow(
    ctx: typer.Context,
    value: Annotated[str, typer.Argument(help="A domain (subdomains included) or an https URL prefix")],
    note: Annotated[str, typer.Option(help="Why it is allowed")] = "",
) -> None:
    """Allow data to go to VALUE without a person's approval (in runs that read nothing untrusted)."""
    from meshclaw.api.audit_trail import record_admin_action
    from meshclaw.policy import store

    kind = "url_prefix" if "://" in value else "domain"
    with open_context(ctx) as (context, org_id), context.db.session() as session:
        row = store.add_egress_rule(session, org_id=org_id, kind=kind, value=value, note=note, by_user_id=None,
                                    now=context.clock.now())  # fmt: skip
        record_admin_action(context, session, None, kind="admin.egress_allowed", target=f"egress_rule:{row.id}",
                            arguments={"kind": row.kind, "value": row.value, "note": row.note})  # fmt: skip
        message = f"Allowed {row.kind} {row.value} (id {row.id})."
    typer.echo(message)


@egress_app.command("remove")
@fails_cleanly
def egress_remove(
    ctx: typer.Context, rule_id: Annotated[int, typer.Argument(help="The entry's id", min=1, max=MAX_ROW_ID)]
) -> None:
    """Stop allowing an entry; runs from now on ask again."""
    from meshclaw.api.audit_trail import record_admin_action
    from meshclaw.policy import store

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        row = store.remove_egress_rule(session, org_id=org_id, rule_id=rule_id, by_user_id=None,
                                       now=context.clock.now())  # fmt: skip
        record_admin_action(context, session, None, kind="admin.egress_removed", target=f"egress_rule:{row.id}",
                            arguments={"kind": row.kind, "value": row.value})  # fmt: skip
        message = f"Removed {row.kind} {row.value}."
    typer.echo(message)


@policy_app.command("preapprovals")
@fails_cleanly
def preapprovals(ctx: typer.Context, agent: Annotated[str, typer.Argument(help=_AGENT_HELP)]) -> None:
    """An agent's pre-approved patterns."""
    from meshclaw.policy import store

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        rows = [(row.id, row.tool, row.constraints, row.note)
                for row in store.active_preapprovals(session, _agent_id(session, org_id, agent))]  # fmt: skip
    for row_id, tool, constraints, note in rows:
        typer.echo(f"{row_id:>5}  {tool}  {json.dumps(constraints)}{'  # ' + note if note else ''}")
    if not rows:
        typer.echo("no pre-approvals: every call that needs approval waits for a person")


@policy_app.command("preapprove")
@fails_cleanly
def preapprove(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help=_AGENT_HELP)],
    tool: Annotated[str, typer.Argument(help="The tool, e.g. deploy_start_release")],
    constraints: Annotated[
        list[str] | None, typer.Argument(help="Fixed arguments: service=web environment=staging")
    ] = None,
    note: Annotated[str, typer.Option(help="Why")] = "",
) -> None:
    """Approve calls of TOOL with these argument values in advance, for one agent."""
    from meshclaw.api.audit_trail import record_admin_action
    from meshclaw.errors import InvalidInputError
    from meshclaw.policy import store

    fixed: dict[str, str] = {}
    for item in constraints or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(
                f"'{item}' is not NAME=VALUE: write e.g. environment=staging", field="constraints"
            )
        fixed[key] = value
    with open_context(ctx) as (context, org_id), context.db.session() as session:
        agent_id = _agent_id(session, org_id, agent)
        row = store.add_preapproval(session, org_id=org_id, agent_id=agent_id, tool=tool, constraints=fixed,
                                    note=note, by_user_id=None, now=context.clock.now())  # fmt: skip
        record_admin_action(context, session, None, kind="admin.preapproval_added", target=f"agent:{agent_id}",
                            arguments={"id": row.id, "tool": row.tool, "constraints": row.constraints})  # fmt: skip
        message = f"Pre-approved {tool} {json.dumps(fixed)} for agent {agent_id} (id {row.id})."
    typer.echo(message)


@policy_app.command("unapprove")
@fails_cleanly
def unapprove(
    ctx: typer.Context,
    preapproval_id: Annotated[int, typer.Argument(help="The pre-approval's id", min=1, max=MAX_ROW_ID)],
) -> None:
    """Remove a pre-approval; the agent asks again from its next run."""
    from meshclaw.api.audit_trail import record_admin_action
    from meshclaw.policy import store

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        row = store.remove_preapproval(session, org_id=org_id, preapproval_id=preapproval_id, by_user_id=None,
                                       now=context.clock.now())  # fmt: skip
        record_admin_action(context, session, None, kind="admin.preapproval_removed", target=f"agent:{row.agent_id}",
                            arguments={"id": row.id, "tool": row.tool})  # fmt: skip
        message = f"Removed pre-approval {row.id} ({row.tool})."
    typer.echo(message)


@policy_app.command("classify")
@fails_cleanly
def classify(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help=_AGENT_HELP)],
    server: Annotated[str, typer.Argument(help="The MCP server's name in the agent's definition")],
    tool: Annotated[str, typer.Argument(help="The tool's name as the server lists it")],
    effect: Annotated[
        str,
        typer.Argument(
            help="read_private, read_untrusted, write_internal, communicate_external, deploy or destructive"
        ),
    ],
    note: Annotated[str, typer.Option(help="Why")] = "",
) -> None:
    """Give an MCP tool its effect class (unclassified tools count as destructive). It holds for this exact
    server configuration, in every agent that runs it."""
    from meshclaw.agents.store import get_version_by_id
    from meshclaw.api.audit_trail import record_admin_action
    from meshclaw.db.models import Agent
    from meshclaw.errors import NotFoundError
    from meshclaw.policy import classifications

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        agent_id = _agent_id(session, org_id, agent)
        row = session.get(Agent, agent_id)
        if row is None or row.current_version_id is None:
            raise NotFoundError(f"agent {agent_id} has no version yet")
        found = classifications.find_server(get_version_by_id(session, row.current_version_id).spec(), server)
        classified = classifications.classify(session, org_id=org_id, server=found, tool=tool, effect=effect,
                                              note=note, by_user_id=None, now=context.clock.now())  # fmt: skip
        record_admin_action(context, session, None, kind="admin.tool_classified", target=f"agent:{agent_id}",
                            arguments={"server": found.name, "server_label": classified.server_label,
                                       "tool": classified.tool, "effect": classified.effect})  # fmt: skip
        message = f"{found.name}_{tool} is {classified.effect} from the next run (server: {classified.server_label})."
    typer.echo(message)
