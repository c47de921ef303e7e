"""`meshclaw agents dreams NAME` (the dream diary) and `meshclaw agents dream NAME [--now] [--wait]`.

A dream is a run with trigger kind `dream` (`meshclaw.runs.dreaming`): `--now` records it with the same
guards as the server and enqueues it for the running `meshclaw up`, like `meshclaw agents run`. Without
`--now`, `dream` says when the agent dreams next. Heavy modules are imported inside the commands.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from meshclaw.cli.state import console, fails_cleanly, open_context

if TYPE_CHECKING:
    from meshclaw.agents.spec import AgentSpec


def _print(text: str) -> None:
    console().print(text, highlight=False, markup=False)


@fails_cleanly
def agents_dreams(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The agent's name (or id)")],
    owner: Annotated[str | None, typer.Option(help="Whose agent, when several people use the name")] = None,
    limit: Annotated[int, typer.Option(help="How many dreams, newest first")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON")] = False,
) -> None:
    """The agent's dream diary: each night's merges, drops and tokens, newest first."""
    from meshclaw.agents.memory import dreams
    from meshclaw.api.memory import DreamOut
    from meshclaw.cli.agent_runs import find_agent

    with open_context(ctx) as (context, org_id):
        agent = find_agent(context, org_id, name, owner)
        with context.db.session() as session:
            found = dreams.list_dreams(session, agent_id=agent.id, limit=limit)
    if as_json:
        import orjson

        data = [DreamOut(**info.__dict__).model_dump(mode="json") for info in found]
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if not found:
        _print(f"{agent.name} has not dreamt yet.")
        return
    _print("\n\n".join(f"{info.diary}\n(run {info.run_id})" for info in found))


@fails_cleanly
def agents_dream(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The agent's name (or id)")],
    owner: Annotated[str | None, typer.Option(help="Whose agent, when several people use the name")] = None,
    now: Annotated[bool, typer.Option("--now", help="Dream now rather than at the scheduled time")] = False,
    wait: Annotated[
        bool, typer.Option("--wait", help="With --now: wait for the dream and print its diary")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits at most")] = 600.0,
) -> None:
    """When the agent dreams next; with --now, start a dream (a run with trigger kind `dream`)."""
    from meshclaw.cli.agent_runs import find_agent, wait_for_run
    from meshclaw.runs.admission import load_agent

    with open_context(ctx) as (context, org_id):
        agent = find_agent(context, org_id, name, owner)
        if not now:
            with context.db.session() as session:
                spec = load_agent(session, agent.id).spec
            _print(_next_dream(spec, context.clock.now()))
            return
        from meshclaw.runs.outside import start_from_outside
        from meshclaw.runs.store import get_run

        run_id, queued = start_from_outside(
            context, agent.id, input_text="", trigger_kind="dream", detail={"by": "operator (CLI)"}
        )
        if not queued:
            with context.db.session() as session:
                run = get_run(session, run_id)
            _print(f"{run_id} skipped: {run.error if run is not None else ''}")
            raise typer.Exit(1)
        if not wait:
            _print(run_id)
            return
        status = wait_for_run(context, run_id, timeout)
        with context.db.session() as session:
            run = get_run(session, run_id)
        _print(f"{run_id} {status}")
        if run is not None and (run.output or run.error):
            _print(run.output or run.error or "")
    if status != "succeeded":
        raise typer.Exit(1)


def _next_dream(spec: AgentSpec, now: datetime) -> str:
    from meshclaw.runs.triggers import due_slot

    dreaming = spec.dreaming
    if dreaming is None or not spec.memory:
        return f'{spec.name} does not dream: add dreaming = {{ at = "03:00" }} to its definition'
    trigger = dreaming.cron()
    # The next slot is the one due a day from now at most; step forward an hour at a time to find it.
    for hours in range(1, 26):
        slot = due_slot(trigger, now + timedelta(hours=hours), grace=timedelta(hours=1))
        if slot is not None and slot > now:
            return (
                f"{spec.name} dreams next at {slot.isoformat()} ({dreaming.at} {dreaming.timezone}), "
                f"with up to {dreaming.max_tokens} model tokens; `--now` dreams now"
            )
    return f"{spec.name} dreams daily at {dreaming.at} {dreaming.timezone}"
