"""`meshclaw usage`: the usage summary from the server's shell, as a table or as the API's JSON.

Like the other commands it reads the local database as the deployment's operator, so it sees everyone's
usage. It reads the rollups only (as the API's summary does), so `--since`/`--until` are widened to whole
hours or days. `usage` is a group: run alone it prints the summary, and sub-commands can be added to it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.table import Table

from meshclaw.cli.state import console, fails_cleanly, open_context

if TYPE_CHECKING:
    from meshclaw.api.usage import GroupOut, MeasuresOut, SummaryOut

usage_app = typer.Typer(
    help="Metered AI usage (requests, tokens per bucket, cost), summed from the rollups.",
    invoke_without_command=True,
)

_COLUMNS = (
    ("requests", "requests"),
    ("errors", "errors"),
    ("input_uncached", "input"),
    ("cache_read", "cache read"),
    ("cache_write", "cache write"),
    ("output", "output"),
    ("reasoning", "reasoning"),
    ("total_tokens", "total tokens"),
)


def _cells(measures: MeasuresOut) -> list[str]:
    return [f"{getattr(measures, name):,}" for name, _ in _COLUMNS] + [f"${measures.cost_usd:,.4f}"]


def _window(summary: SummaryOut) -> str:
    since = summary.since.strftime("%Y-%m-%d %H:%M") if summary.since else "the beginning"
    until = summary.until.strftime("%Y-%m-%d %H:%M") if summary.until else "now"
    return f"{since} to {until} UTC (whole {summary.period}s)"


def _label(group: GroupOut) -> str:
    name = group.label or (str(group.key) if group.key is not None else "(none)")
    if group.period_start is not None:
        return f"{group.period_start:%Y-%m-%d %H:%M}  {name}"
    return name


def print_table(summary: SummaryOut) -> None:
    table = Table(
        title=f"Usage by {summary.group_by}, {_window(summary)}",
        show_footer=bool(summary.groups),
        title_justify="left",
    )
    table.add_column(str(summary.group_by), footer="total")
    for index, (_, title) in enumerate((*_COLUMNS, ("cost_usd", "cost (USD)"))):
        footer = _cells(summary.totals)[index]
        table.add_column(title, justify="right", footer=footer)
    for group in summary.groups:
        table.add_row(_label(group), *_cells(group))
    if not summary.groups:
        console().print(f"No usage recorded for {_window(summary)}.", highlight=False)
        return
    console().print(table)


@usage_app.callback()
@fails_cleanly
def usage(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's summary JSON")] = False,
    since: Annotated[
        str | None, typer.Option(help="ISO date or date-time (UTC unless an offset is given)")
    ] = None,
    until: Annotated[str | None, typer.Option(help="ISO date or date-time, exclusive")] = None,
    group_by: Annotated[str, typer.Option(help="user, team, agent, model, client or source")] = "user",
    period: Annotated[str, typer.Option(help="hour or day: the rollups read (and the rounding)")] = "day",
    series: Annotated[bool, typer.Option("--series", help="One row per group and period")] = False,
    user: Annotated[str | None, typer.Option(help="A user's email or id")] = None,
    team: Annotated[str | None, typer.Option(help="A team's name or id")] = None,
    agent: Annotated[str | None, typer.Option(help="An agent id")] = None,
    source: Annotated[str | None, typer.Option(help="gateway, agent, otlp or import")] = None,
    model: Annotated[str | None, typer.Option(help="A model name")] = None,
) -> None:
    """Print the usage summary (the same numbers as GET /api/v1/usage/summary)."""
    from meshclaw.api.usage import summary_out
    from meshclaw.api.usage_query import UsageQuery, resolve_filters
    from meshclaw.metering.queries import DIMENSIONS, PERIODS, Scope, parse_choice
    from meshclaw.metering.summary import summarize

    if ctx.invoked_subcommand is not None:
        return
    dimension = parse_choice(group_by, DIMENSIONS, "--group-by")
    resolution = parse_choice(period, PERIODS, "--period")
    query = UsageQuery(
        since=since, until=until, user=user, team=team, agent=agent, source=source, model=model
    )
    with open_context(ctx) as (context, org_id), context.db.session() as session:
        filters = resolve_filters(session, org_id, query, principal=None)
        summary = summary_out(
            summarize(session, Scope.all(), filters, group_by=dimension, period=resolution, series=series)
        )
    if as_json:
        sys.stdout.write(orjson.dumps(summary.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
        return
    print_table(summary)
