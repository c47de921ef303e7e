"""`meshclaw import copilot|cursor FILE`: import a usage report from the server's shell.

Events are recorded through the same recorder as the server's (journal first, then batched writes) and
committed before the command returns. Re-importing a file adds nothing: its events have stable ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from meshclaw.cli.state import console, fails_cleanly, open_context

if TYPE_CHECKING:
    from meshclaw.ingest.imports import ReportFormat


import_app = typer.Typer(
    help="Import usage reports from other AI tools (Copilot, Cursor).", no_args_is_help=True
)
FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The report file")]
SkipBad = Annotated[bool, typer.Option("--skip-bad", help="Import the good rows of a file with bad rows")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the summary as JSON")]


def _run(
    ctx: typer.Context,
    report_format: ReportFormat,
    file: Path,
    *,
    skip_bad: bool,
    as_json: bool,
    logins: dict[str, str] | None = None,
) -> None:
    from meshclaw.ingest.imports import import_report
    from meshclaw.metering.recorder import Recorder

    with open_context(ctx) as (context, org_id):
        recorder = Recorder(context.db, journal_dir=context.settings.metering_journal_dir)
        recorder.start()
        try:
            summary = import_report(
                context,
                recorder,
                org_id=org_id,
                report_format=report_format,
                data=file.read_bytes(),
                skip_bad=skip_bad,
                logins=logins,
            )
        finally:
            recorder.close()
    result = summary.as_dict()
    if as_json:
        typer.echo(orjson.dumps(result).decode())
        return
    events = result["events"]
    console().print(
        f"Imported {result['imported_rows']} of {result['rows']} {report_format} rows: "
        f"{events['usage']} usage, {events['outcomes']} outcome and {events['activities']} activity events "
        "(events already imported are ignored)."
    )
    for row in result["skipped"]:
        console().print(f"  skipped line {row['line']}: {row['error']}", markup=False, highlight=False)


@import_app.command("copilot")
@fails_cleanly
def import_copilot(
    ctx: typer.Context,
    file: FileArg,
    skip_bad: SkipBad = False,
    login: Annotated[
        list[str] | None,
        typer.Option(help="LOGIN=EMAIL for a GitHub login that is not its owner's email local part; repeat"),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Import a GitHub Copilot usage-metrics report (NDJSON, one user-day per line)."""
    from meshclaw.ingest.imports import parse_logins

    _run(ctx, "copilot", file, skip_bad=skip_bad, as_json=as_json, logins=parse_logins(login))


@import_app.command("cursor")
@fails_cleanly
def import_cursor(
    ctx: typer.Context, file: FileArg, skip_bad: SkipBad = False, as_json: AsJson = False
) -> None:
    """Import a Cursor daily usage report (the Admin API's daily-usage-data JSON)."""
    _run(ctx, "cursor", file, skip_bad=skip_bad, as_json=as_json)
