"""`meshclaw audit verify|export|checkpoint`: check and read the tamper-evident audit log from the server's
shell. The key comes from MESHCLAW_AUDIT_KEY or <data_dir>/audit.key, as for the server."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from meshclaw.cli.state import fails_cleanly, open_context

audit_app = typer.Typer(
    help="The tamper-evident audit log: verify the chain, export it.", no_args_is_help=True
)


@audit_app.command("verify")
@fails_cleanly
def audit_verify(ctx: typer.Context) -> None:
    """Recompute the hash chain and check it against the checkpoints. Exit code 1 on any problem."""
    from meshclaw.audit.chain import AuditLog
    from meshclaw.audit.verify import verify

    with open_context(ctx) as (context, _):
        log = AuditLog.for_data_dir(context.settings.data_dir)
        with context.db.session() as session:
            result = verify(session, key=log.key, checkpoint_file=log.checkpoint_file)
    if result.ok:
        typer.echo(
            f"audit log OK: {result.records} records (seq 1..{result.last_seq}), "
            f"{result.checkpoints} checkpoint(s) matched"
        )
        return
    typer.echo(f"audit log FAILED at seq {result.first_bad_seq}: {result.problem}")
    typer.echo(f"({result.records} records verified before it)", err=True)
    raise typer.Exit(1)


@audit_app.command("export")
@fails_cleanly
def audit_export(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(help="From this ISO date or date-time (UTC), inclusive")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Before this ISO date or date-time (UTC)")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind, or a prefix such as admin.*")] = None,
) -> None:
    """Write the records as JSON lines to stdout, oldest first. The export is itself audited."""
    import orjson

    from meshclaw.audit.chain import AuditLog
    from meshclaw.audit.record import AuditRecord
    from meshclaw.audit.store import AuditFilter, event_dict, iter_events
    from meshclaw.metering.queries import parse_time

    where = AuditFilter(kind=kind, since=parse_time(since, "since"), until=parse_time(until, "until"))
    with open_context(ctx) as (context, _):
        log = AuditLog.for_data_dir(context.settings.data_dir)
        with context.db.session() as session:
            log.append(
                session,
                AuditRecord(
                    kind="admin.audit_exported",
                    invoked_by="cli",
                    arguments={"since": since, "until": until, "kind": kind},
                    outcome="ok",
                ),
                now=context.clock.now(),
            )
        out = sys.stdout
        with context.db.session() as session:
            for row in iter_events(session, where):
                out.write(orjson.dumps(event_dict(row)).decode() + "\n")
        out.flush()


@audit_app.command("checkpoint")
@fails_cleanly
def audit_checkpoint(ctx: typer.Context) -> None:
    """Record the current chain head as a checkpoint now (in the database and the checkpoint file)."""
    from meshclaw.audit.chain import AuditLog

    with open_context(ctx) as (context, _):
        log = AuditLog.for_data_dir(context.settings.data_dir)
        with context.db.session() as session:
            checkpoint = log.checkpoint(session, now=context.clock.now())
            seq = checkpoint.seq if checkpoint else None
    typer.echo("the audit log is empty; nothing to checkpoint" if seq is None else f"checkpoint at seq {seq}")
