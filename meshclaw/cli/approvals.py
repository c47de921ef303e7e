"""`meshclaw approvals list`, `meshclaw approvals approve ID`, `meshclaw approvals deny ID`.

The operator's shell decides any approval (see `cli.state`); the audit record says `cli`. The decision is
recorded, then the waiting run is woken through the runs engine's database, so the running server (or a
worker) carries on with it. Editing the arguments before approving is for the web inbox or the API.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from meshclaw.cli.state import console, fails_cleanly, open_context

approvals_app = typer.Typer(
    help="Approvals: tool calls that wait for a person, with the exact action.", no_args_is_help=True
)


@approvals_app.command("list")
@fails_cleanly
def approvals_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON")] = False,
) -> None:
    """Every open approval: the tool, its effect class and every argument in full."""
    from meshclaw.api.approvals import approval_out
    from meshclaw.runs import approval_inbox

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        views = approval_inbox.operator_pending(session, org_id, now=context.clock.now())
    if as_json:
        data: list[dict[str, Any]] = [approval_out(view).model_dump(mode="json") for view in views]
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table("approval", "agent", "owner", "tool", "effect", "arguments", "expires (UTC)")
    for view in views:
        table.add_row(
            view.id,
            view.agent_name,
            view.owner_email,
            view.tool,
            view.effect,
            json.dumps(view.args, indent=2, ensure_ascii=False),
            view.expires_at.strftime("%Y-%m-%d %H:%M"),
        )
    console().print(table, markup=False, highlight=False)


def _decide(ctx: typer.Context, approval_id: str, *, approve: bool, note: str | None) -> None:
    from meshclaw.runs import approvals
    from meshclaw.runs.outside import decide_from_outside

    with open_context(ctx) as (context, _org_id):
        decided = decide_from_outside(context, approval_id, approvals.Choice(approve=approve, note=note))
    print(f"{decided.id} {decided.status}: {decided.tool} for run {decided.run_id}")


@approvals_app.command("approve")
@fails_cleanly
def approvals_approve(
    ctx: typer.Context,
    approval_id: Annotated[str, typer.Argument(help="The approval's id (`meshclaw approvals list`)")],
    note: Annotated[str | None, typer.Option(help="A note kept with the decision")] = None,
) -> None:
    """Approve the call exactly as listed; the run carries on with it."""
    _decide(ctx, approval_id, approve=True, note=note)


@approvals_app.command("deny")
@fails_cleanly
def approvals_deny(
    ctx: typer.Context,
    approval_id: Annotated[str, typer.Argument(help="The approval's id (`meshclaw approvals list`)")],
    note: Annotated[str | None, typer.Option(help="Why: told to the agent")] = None,
) -> None:
    """Deny the call; the agent reads the note and carries on without it."""
    _decide(ctx, approval_id, approve=False, note=note)
