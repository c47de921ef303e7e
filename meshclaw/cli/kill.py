"""`meshclaw kill agent NAME | user EMAIL | org`, `meshclaw kill release ID`, `meshclaw kill list`.

The operator's shell acts as an administrator (see `cli.state`); the audit record says `cli`. Runs that a
server is executing stop before their next model or tool call once the server re-reads the switches (at
most a second later); queued and scheduled runs do not start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from meshclaw.cli.state import fails_cleanly, open_context
from meshclaw.db.row_ids import MAX_ROW_ID

if TYPE_CHECKING:
    from meshclaw.runs.kill_switches import Scope

kill_app = typer.Typer(
    help="Kill switches: stop every run of an agent, of a person's agents, or of the whole organization.",
    no_args_is_help=True,
)

_REASON = typer.Option(help="Why: shown to the owners it stops and kept in the audit log")


def _engage(ctx: typer.Context, scope: Scope, ref: str | None, reason: str, owner: str | None = None) -> None:
    from meshclaw.api.kill_switches import engage_switch, resolve_target
    from meshclaw.cli.agent_runs import pick_agent

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        target = pick_agent(session, org_id, ref or "", owner).id if scope == "agent" else ref
        target_id = resolve_target(session, org_id, scope, target)
        engaged = engage_switch(
            context, session, None, scope=scope, target_id=target_id, reason=reason, org_id=org_id
        )
        print(
            f"engaged kill switch {engaged.switch.id}: {engaged.label}; "
            f"{len(engaged.stopped_run_ids)} active run(s) stopped"
        )


@kill_app.command("agent")
@fails_cleanly
def kill_agent(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The agent's name (or id)")],
    owner: Annotated[str | None, typer.Option(help="Whose agent, when several people use the name")] = None,
    reason: Annotated[str, _REASON] = "",
) -> None:
    """Stop every run of one agent; it starts none until released."""
    _engage(ctx, "agent", name, reason, owner)


@kill_app.command("user")
@fails_cleanly
def kill_user(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The person whose agents stop")],
    reason: Annotated[str, _REASON] = "",
) -> None:
    """Stop every run of every agent a person owns."""
    _engage(ctx, "user", email, reason)


@kill_app.command("org")
@fails_cleanly
def kill_org(ctx: typer.Context, reason: Annotated[str, _REASON] = "") -> None:
    """Stop every run in the organization; no agent runs until released."""
    _engage(ctx, "org", None, reason)


@kill_app.command("release")
@fails_cleanly
def kill_release(
    ctx: typer.Context,
    switch_id: Annotated[
        int, typer.Argument(help="The switch's id (`meshclaw kill list`)", min=1, max=MAX_ROW_ID)
    ],
) -> None:
    """Release a switch: its agents may run again."""
    from meshclaw.api.kill_switches import release_switch
    from meshclaw.runs.kill_switches import label

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        switch = release_switch(context, session, None, switch_id=switch_id, org_id=org_id)
        print(f"released kill switch {switch.id}: {label(session, switch)}")


@kill_app.command("list")
@fails_cleanly
def kill_list(
    ctx: typer.Context, every: Annotated[bool, typer.Option("--all", help="Released ones too")] = False
) -> None:
    """The engaged switches (with --all, the history too), newest first."""
    from rich.console import Console
    from rich.table import Table

    from meshclaw.runs import kill_switches

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        rows = kill_switches.history(session, org_id, limit=200)
        table = Table("id", "switch", "reason", "engaged (UTC)", "released (UTC)")
        for row in rows:
            if row.released_at is not None and not every:
                continue
            released = row.released_at.isoformat(timespec="seconds") if row.released_at else "engaged"
            table.add_row(str(row.id), kill_switches.label(session, row), row.reason,
                          row.engaged_at.isoformat(timespec="seconds"), released)  # fmt: skip
    Console().print(table)
