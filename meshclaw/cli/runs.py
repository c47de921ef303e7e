"""`meshclaw agents run NAME [--wait] [--json]`, `meshclaw runs list` and `meshclaw runs show ID`.

Like every command, these act as the deployment's operator, on the database directly (`cli.state`).
`agents run` records the run with the same guards as the server and enqueues it in the runs engine's
database, so the running `meshclaw up` (or a worker) executes it; nothing needs an API key. Without a
running server the run waits, queued, until one starts (`--wait` says so while it waits). The JSON of
`show` and `list` is the API's.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from meshclaw.cli.state import console, fails_cleanly, open_context
from meshclaw.db.row_ids import MAX_ROW_ID

runs_app = typer.Typer(help="Runs: the history of agents' runs, with their steps.", no_args_is_help=True)


def _print(text: str) -> None:
    console().print(text, highlight=False, markup=False)


def _json(data: Any) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


@fails_cleanly
def run_agent(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The agent's name (or id)")],
    owner: Annotated[str | None, typer.Option(help="Whose agent, when several people use the name")] = None,
    input_text: Annotated[str, typer.Option("--input", help="The task or message for this run")] = "",
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the run to end and print its status")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most")] = 600.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run as the API's JSON")] = False,
) -> None:
    """Start a run of an agent now; prints the run id (with --wait, its final status; exit 1 unless it
    succeeded)."""
    from meshclaw.cli.agent_runs import find_agent, wait_for_run
    from meshclaw.runs.outside import start_from_outside

    with open_context(ctx) as (context, org_id):
        agent = find_agent(context, org_id, name, owner)
        run_id, queued = start_from_outside(context, agent.id, input_text=input_text)
        status = "queued" if queued else "skipped"
        if wait and queued:
            status = wait_for_run(context, run_id, timeout)
        if as_json:
            _json(_detail(context, run_id))
        elif wait or not queued:
            _print(f"{run_id} {status}")
        else:
            _print(run_id)
    if wait and status != "succeeded":
        raise typer.Exit(1)


def _detail(context: Any, run_id: str) -> dict[str, Any]:
    from meshclaw.api.runs import detail_out
    from meshclaw.runs import history

    with context.db.session() as session:
        found = history.operator_detail(session, run_id)
    return detail_out(found).model_dump(mode="json")


@runs_app.command("list")
@fails_cleanly
def runs_list(
    ctx: typer.Context,
    agent: Annotated[
        int | None, typer.Option(help="Only this agent's runs (its id)", min=1, max=MAX_ROW_ID)
    ] = None,
    status: Annotated[str | None, typer.Option(help="Only runs with this status")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON")] = False,
) -> None:
    """The newest runs, with status, trigger, tokens and cost."""
    from meshclaw.api.runs import run_out
    from meshclaw.runs import history

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        views = history.operator_list(session, org_id, agent_id=agent, status=status, limit=limit)
    if as_json:
        _json([run_out(view).model_dump(mode="json") for view in views])
        return
    table = Table("run", "agent", "owner", "trigger", "status", "tokens", "cost $", "created (UTC)")
    for view in views:
        table.add_row(
            view.id,
            view.agent_name,
            view.owner_email,
            view.trigger_kind,
            view.status,
            str(view.input_tokens + view.output_tokens),
            f"{view.cost_usd:.4f}",
            view.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console().print(table)


@runs_app.command("show")
@fails_cleanly
def runs_show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run's id")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON")] = False,
) -> None:
    """One run with its steps (model calls, tool calls with their policy decisions, notes)."""
    with open_context(ctx) as (context, _org_id):
        detail = _detail(context, run_id)
    if as_json:
        _json(detail)
        return
    _print(
        f"{detail['id']}: {detail['status']} — agent {detail['agent_name']} (version id "
        f"{detail['agent_version_id']}) for {detail['owner_email']}, {detail['trigger_kind']} trigger"
    )
    if detail["error"]:
        _print(f"error: {detail['error']}")
    if detail["output"]:
        _print(f"output: {detail['output']}")
    table = Table("#", "kind", "name", "effect", "decision", "status", "tokens in/out", "ms")
    for step in detail["steps"]:
        table.add_row(
            str(step["seq"]),
            step["kind"],
            step["name"],
            step["effect_class"] or "",
            step["decision"] or "",
            step["status"],
            f"{step['input_tokens']}/{step['output_tokens']}",
            f"{step['latency_ms']:.0f}",
        )
    console().print(table)
