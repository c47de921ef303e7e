"""`meshclaw simulate` (a labelled organization and its AI use, into the configured data directory) and
`meshclaw demo` (the platform on a fresh demo data directory seeded with a smaller simulation)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from meshclaw.cli import serve
from meshclaw.cli.state import CliState, console, err_console, fails_cleanly, open_context, state_of
from meshclaw.errors import InvalidInputError

if TYPE_CHECKING:
    from meshclaw.context import AppContext
    from meshclaw.simulation.run import SimulationOptions, SimulationSummary

People = Annotated[int, typer.Option(help="How many people")]
Days = Annotated[int, typer.Option(help="How many days, ending yesterday (UTC) unless --last-day")]
Seed = Annotated[int, typer.Option(help="Random seed: the same seed gives the same organization and usage")]
LastDay = Annotated[str | None, typer.Option(help="Last simulated day, YYYY-MM-DD [default: yesterday, UTC]")]
Domain = Annotated[str, typer.Option(help="Email domain of the simulated people")]


def _last_day(value: str | None) -> date:
    if value is None:
        return datetime.now(UTC).date() - timedelta(days=1)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(f"--last-day must be a date like 2026-11-30, not {value!r}") from None


def _run(context: AppContext, org_id: int, options: SimulationOptions) -> SimulationSummary:
    from meshclaw.simulation.run import simulate

    with Progress(
        TextColumn("simulating days"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console(),
        transient=True,
    ) as progress:
        task = progress.add_task("simulate", total=options.days)
        return simulate(context, org_id, options, progress=lambda n: progress.advance(task, n))


def _print_summary(summary: SimulationSummary) -> None:
    console().print(
        f"Simulated {summary.people:,} people in {summary.teams} teams and {summary.agents} agents, "
        f"{summary.first_day} to {summary.last_day}, in {summary.seconds:.0f} s: "
        f"{summary.usage_events:,} usage, {summary.outcome_events:,} outcome and "
        f"{summary.activity_events:,} activity events ({summary.otlp_exports:,} OTLP exports), "
        f"{summary.tokens:,} tokens, ${summary.cost_usd:,.2f}.",
        highlight=False,
    )
    table = Table("behaviour", "subjects")
    for label, count in sorted(summary.labels.items()):
        table.add_row(label, str(count))
    console().print(table)
    console().print(f"Labels (subject -> behaviour): {summary.labels_path}", highlight=False)


def _as_json(summary: SimulationSummary) -> str:
    return orjson.dumps(
        {
            "people": summary.people,
            "teams": summary.teams,
            "agents": summary.agents,
            "first_day": summary.first_day.isoformat(),
            "last_day": summary.last_day.isoformat(),
            "labels": dict(sorted(summary.labels.items())),
            "events": {
                "usage": summary.usage_events,
                "outcomes": summary.outcome_events,
                "activities": summary.activity_events,
            },
            "otlp_exports": summary.otlp_exports,
            "tokens": summary.tokens,
            "cost_usd": round(summary.cost_usd, 6),
            "seconds": round(summary.seconds, 3),
            "labels_file": str(summary.labels_path),
        }
    ).decode()


@fails_cleanly
def simulate_command(
    ctx: typer.Context,
    people: People = 2000,
    days: Days = 90,
    seed: Seed = 1,
    last_day: LastDay = None,
    domain: Domain = "example.com",
    force: Annotated[
        bool, typer.Option("--force", help="Simulate into a data directory that has people")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
) -> None:
    """Generate a labelled organization and its AI usage and outcomes, through the real ingestion paths.

    Writes `simulation-labels.json` (subject email or agent name -> behaviour) into the data directory.
    Refuses a data directory that already has people unless --force.
    """
    from meshclaw.simulation.run import SimulationOptions

    options = SimulationOptions(
        people=people, days=days, seed=seed, last_day=_last_day(last_day), domain=domain, force=force
    )
    with open_context(ctx) as (context, org_id):
        summary = _run(context, org_id, options)
    if as_json:
        typer.echo(_as_json(summary))
    else:
        _print_summary(summary)


@fails_cleanly
def demo(
    ctx: typer.Context,
    data_dir: Annotated[Path, typer.Option(help="Demo data directory (created if missing)")] = Path(
        "./demo-data"
    ),
    people: People = 300,
    days: Days = 30,
    seed: Seed = 1,
    host: Annotated[str | None, typer.Option(help="Bind address [default 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default 8700]")] = None,
) -> None:
    """Start MeshClaw on a demo data directory seeded with a simulated organization, and print how to sign in.

    The first start simulates; later starts reuse the data. Always SQLite in the demo directory, whatever
    MESHCLAW_DATA_DIR or MESHCLAW_DATABASE_URL say, so a demo never writes into a real deployment.
    """
    from meshclaw.simulation.demo import reset_demo_admin
    from meshclaw.simulation.run import LABELS_FILE, SimulationOptions

    state = state_of(ctx)
    # An empty database URL overrides MESHCLAW_DATABASE_URL from the environment: SQLite in the demo dir.
    demo_state = CliState(config_file=state.config_file, overrides={"data_dir": data_dir, "database_url": ""})
    settings = demo_state.settings(host=host, port=port)
    if not serve.port_is_free(settings.host, settings.port):
        raise InvalidInputError(
            f"port {settings.port} on {settings.host} is in use; pass --port", field="port"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    ctx.find_root().obj = demo_state
    domain = "example.com"
    with open_context(ctx) as (context, org_id):
        if (data_dir / LABELS_FILE).exists():
            console().print(f"Reusing the simulated organization in {data_dir}.", highlight=False)
        else:
            options = SimulationOptions(
                people=people, days=days, seed=seed, last_day=_last_day(None), domain=domain
            )
            _print_summary(_run(context, org_id, options))
        email, password = reset_demo_admin(context, org_id, domain=domain)
    console().print(
        f"\nSign in at {settings.resolved_public_url}/login as [bold]{email}[/bold] with the password "
        f"[bold]{password}[/bold] (new at every start, shown only here).\n",
        highlight=False,
    )
    serve.up(ctx, host=host, port=port, log_json=False)
