"""`meshclaw agents apply FILE|list|show NAME|templates`: agent definitions from the server's shell.

The CLI acts as the deployment's operator (`cli.state`), so `apply` needs to know whose agent it is:
`--owner EMAIL`, or, when the organization has exactly one admin, that admin. The file never says.
`apply` makes the file the whole definition, replacing whatever version is current (a file is the
source of truth, applied on every deploy); `--if-version N` saves only over version N, as the API's
If-Match does, for someone who edited a copy of what `show` printed. The
JSON of `list` and `show` is the API's. The agents and API modules are imported inside each command, so
`meshclaw --help` does not pay for FastAPI and pydantic models it does not use.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from meshclaw.cli.state import console, fails_cleanly, open_context

agents_app = typer.Typer(
    help="Agents: definitions (TOML or YAML files), their versions and templates.",
    no_args_is_help=True,
)


def _print(text: str) -> None:
    console().print(text, highlight=False, markup=False)


def _json(data: Any) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


@agents_app.command("apply")
@fails_cleanly
def agents_apply(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="An agent definition, .toml, .yaml or .yml")],
    owner: Annotated[
        str | None, typer.Option(help="Email of the person the agent acts for (default: the only admin)")
    ] = None,
    if_version: Annotated[
        int | None,
        typer.Option(
            "--if-version",
            min=1,
            help="Save only if the agent's current version is this one (else nothing is saved), so a "
            "change made meanwhile, e.g. in the web form, is not overwritten",
        ),
    ] = None,
) -> None:
    """Create the agent, or save a new version if FILE differs from its current one."""
    from meshclaw.agents import service
    from meshclaw.agents.files import load_spec_file
    from meshclaw.api.agents import save_definition
    from meshclaw.providers.registry import Routes

    spec = load_spec_file(file)
    with open_context(ctx) as (context, org_id), context.db.session() as session:
        person = service.resolve_owner(session, org_id, None, owner)
        applied = save_definition(
            context,
            session,
            None,
            org_id=org_id,
            owner=person,
            spec=spec,
            checks=service.deployment_checks(Routes.load(session)),
            expected_version=if_version,
        )
    agent, number = applied.agent, applied.version.number
    said = {
        "created": f"Created agent {agent.name} (id {agent.id}) for {agent.owner_email}, version 1.",
        "updated": f"Saved version {number} of agent {agent.name} (id {agent.id}) for {agent.owner_email}.",
        "unchanged": f"Agent {agent.name} is unchanged (version {number}); no new version.",
    }
    _print(said[applied.outcome])


@agents_app.command("list")
@fails_cleanly
def agents_list(
    ctx: typer.Context,
    owner: Annotated[str | None, typer.Option(help="Only this person's agents (email or id)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON")] = False,
) -> None:
    """Every agent, by owner and name."""
    from meshclaw.agents import service
    from meshclaw.api.agents import agent_out, current_version

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        rows = [
            agent_out(agent, current_version(session, agent))
            for agent in service.visible_agents(session, org_id, None, owner=owner)
        ]
    if as_json:
        _json([row.model_dump(mode="json") for row in rows])
        return
    if not rows:
        _print("No agents yet; create one with `meshclaw agents apply FILE` (see examples/agents/).")
        return
    table = Table("id", "name", "owner", "version", "model", "enabled", "purpose")
    for row in rows:
        table.add_row(
            str(row.id),
            row.name,
            row.owner_email,
            str(row.current_version or "-"),
            row.model or "-",
            "yes" if row.enabled else "no",
            row.purpose[:60],
        )
    console().print(table)


@agents_app.command("show")
@fails_cleanly
def agents_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The agent's name (or id)")],
    owner: Annotated[str | None, typer.Option(help="Whose agent, when several people use the name")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON")] = False,
) -> None:
    """An agent's current definition and its versions."""
    from meshclaw.api.agents import agent_detail
    from meshclaw.cli.agent_runs import pick_agent

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        detail = agent_detail(session, pick_agent(session, org_id, name, owner))
    if as_json:
        _json(detail.model_dump(mode="json"))
        return
    import orjson

    state = "enabled" if detail.enabled else "DISABLED"
    _print(
        f"{detail.name} (id {detail.id}) for {detail.owner_email}: version {detail.current_version}, {state}"
    )
    table = Table("version", "saved (UTC)", "by user", "digest")
    for version in detail.versions:
        table.add_row(
            str(version.number),
            version.created_at.strftime("%Y-%m-%d %H:%M"),
            str(version.created_by_user_id or "operator"),
            version.spec_digest[:12],
        )
    console().print(table)
    _print(orjson.dumps(detail.spec, option=orjson.OPT_INDENT_2).decode())


@agents_app.command("templates")
@fails_cleanly
def agents_templates() -> None:
    """The templates an agent can be created from (web page, or POST /api/v1/agents/from-template)."""
    from meshclaw.agents.templates import builtin_templates

    table = Table("name", "title", "settings", "description")
    for template in builtin_templates():
        settings = ", ".join(s.name + ("*" if s.required else "") for s in template.settings)
        table.add_row(template.name, template.title, settings or "-", template.description)
    console().print(table)
    _print("* required")
