"""`meshclaw usage refused`: the metering events the database refused, which the recorder set aside in
`metering-journal/refused.jsonl` so they held up nothing (`meshclaw_metering_refused_events_total` counts
them). List them, store them again once the cause is mended (`--retry`), or drop those that are not usage
(`--drop ID`, audited as `admin.metering_events_dropped`)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.table import Table

from meshclaw.cli.state import console, err_console, fails_cleanly, open_context

if TYPE_CHECKING:
    from meshclaw.metering.refused import Refused


def _kind(item: Refused) -> str:
    from meshclaw.metering.events import OutcomeEvent, UsageEvent

    if item.event is None:
        return "unreadable"
    if isinstance(item.event, UsageEvent):
        return "usage"
    return "outcome" if isinstance(item.event, OutcomeEvent) else "activity"


def _what(item: Refused) -> str:
    """Who and what, in a few words: the user and the model (usage) or the type (outcomes)."""
    event = item.event
    if event is None:
        return ""
    name = (
        getattr(event, "model", None) or getattr(event, "requested_model", None) or getattr(event, "type", "")
    )
    who = f"user {event.user_id}" if event.user_id is not None else "no user"
    return f"{event.source}, {who}, {name}"


def _json(item: Refused) -> dict[str, object]:
    return {
        "event_id": item.event_id,
        "kind": _kind(item),
        "set_aside_at": item.at.isoformat() if item.at else None,
        "reason": item.reason,
        "line": item.line.decode(errors="replace"),
    }


def _print(items: list[Refused], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(
            orjson.dumps([_json(item) for item in items], option=orjson.OPT_INDENT_2).decode() + "\n"
        )
        return
    if not items:
        console().print("No metering events are set aside: the database took every one.")
        return
    title = f"{len(items)} metering events set aside (metering-journal/refused.jsonl)"
    table = Table("event id", "kind", "source, user, model", "set aside (UTC)", "reason", title=title)
    for item in items:
        at = f"{item.at:%Y-%m-%d %H:%M:%S}" if item.at else ""
        table.add_row(item.event_id or "", _kind(item), _what(item), at, item.reason[:160])
    console().print(table)


@fails_cleanly
def refused(
    ctx: typer.Context,
    retry: Annotated[
        bool,
        typer.Option("--retry", help="Store them again (after an upgrade or fix); keep those refused again"),
    ] = False,
    drop: Annotated[
        list[str] | None,
        typer.Option("--drop", metavar="EVENT_ID", help="Remove this event for good (repeatable); audited"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print them as JSON")] = False,
) -> None:
    """List the metering events the database refused, retry them or drop them. Exit 1 while any remain
    after --retry."""
    from meshclaw.api.audit_trail import record_admin_action
    from meshclaw.errors import InvalidInputError, NotFoundError
    from meshclaw.metering.refused import drop_refused, read_refused, retry_refused

    if retry and drop:
        raise InvalidInputError("give --retry or --drop, not both")
    with open_context(ctx) as (context, _):
        journal_dir = context.settings.metering_journal_dir
        if drop:
            present = {item.event_id: item for item in read_refused(journal_dir)}
            missing = sorted(set(drop) - present.keys())
            if missing:
                raise NotFoundError(
                    f"not set aside: {', '.join(missing)}; `meshclaw usage refused` lists them"
                )
            # The record commits first: a drop that then fails leaves the events listed, not gone unrecorded.
            arguments = {
                "event_ids": sorted(set(drop)),
                "reasons": sorted({present[event_id].reason for event_id in drop}),
            }
            with context.db.session() as session:
                record_admin_action(context, session, None, kind="admin.metering_events_dropped",
                                    target="metering", arguments=arguments)  # fmt: skip
            dropped = drop_refused(journal_dir, set(drop))
            err_console().print(f"dropped {len(dropped)} set-aside metering events")
            return
        if retry:
            result = retry_refused(context.db, journal_dir, now=context.clock.now())
            err_console().print(
                f"stored {result.stored}, already stored {result.already_stored}, "
                f"still refused {len(result.still_refused)}",
                highlight=False,
            )
            _print(result.still_refused, as_json)
            if result.still_refused:
                raise typer.Exit(1)
            return
        _print(read_refused(journal_dir), as_json)
