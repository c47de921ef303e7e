"""`meshclaw clarity flags|adoption|leaderboard`: Clarity from the server's shell, as tables or the API's
JSON. Like the other commands it reads the local database as the operator, so it sees everyone; `flags`
scores the weeks in the range that need it (as the API does) before listing them.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.table import Table

from meshclaw.cli.state import console, fails_cleanly, open_context

if TYPE_CHECKING:
    from pydantic import BaseModel

clarity_app = typer.Typer(help="Clarity: adoption, leaderboards by outcomes, tokenmaxxing flags.")
Since = Annotated[str | None, typer.Option(help="First day, ISO 8601 (2026-11-02)")]
Until = Annotated[str | None, typer.Option(help="Day after the last, exclusive")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON")]


def _print_json(document: BaseModel) -> None:
    sys.stdout.write(orjson.dumps(document.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode())
    sys.stdout.write("\n")


@clarity_app.command("flags")
@fails_cleanly
def flags(ctx: typer.Context, since: Since = None, until: Until = None, as_json: AsJson = False) -> None:
    """Tokenmaxxing flags of the weeks overlapping the range (the same as GET /api/v1/clarity/flags)."""
    from meshclaw.api.clarity_shapes import flags_out
    from meshclaw.clarity import views

    with open_context(ctx) as (context, _), context.db.session() as session:
        window, stored = views.flags(session, None, since=since, until=until, now=context.clock.now())
        document = flags_out(window.since, window.until, stored)
    if as_json:
        _print_json(document)
        return
    if not document.flags:
        console().print(f"No flags from {document.since} to {document.until} (exclusive).", highlight=False)
        return
    table = Table(title=f"Flags, {document.since} to {document.until} (exclusive)", title_justify="left")
    for column in ("id", "week", "kind", "subject", "score", "signals", "status"):
        table.add_column(column, justify="right" if column in ("id", "score") else "left")
    for flag in document.flags:
        table.add_row(
            str(flag.id),
            str(flag.week_start),
            flag.kind,
            flag.subject,
            f"{flag.score:g}",
            ", ".join(signal.name for signal in flag.signals),
            flag.status,
        )
    console().print(table)


@clarity_app.command("adoption")
@fails_cleanly
def adoption(
    ctx: typer.Context,
    since: Since = None,
    until: Until = None,
    team: Annotated[str | None, typer.Option(help="A team's name or id")] = None,
    as_json: AsJson = False,
) -> None:
    """Weekly active people against the goal (the same as GET /api/v1/clarity/adoption)."""
    from meshclaw.api.clarity_shapes import adoption_out
    from meshclaw.clarity import views

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        view = views.adoption(
            session,
            org_id,
            None,
            since=since,
            until=until,
            team=team,
            user=None,
            today=context.clock.now().date(),
        )
        document = adoption_out(view, one_team=bool(team))
    if as_json:
        _print_json(document)
        return
    table = Table(
        title=f"Adoption (goal {document.rule.weekly_goal:.0%} active a week)", title_justify="left"
    )
    for column in (
        "week",
        "group",
        "people",
        "active",
        "rate",
        "goal met",
        "none",
        "light",
        "moderate",
        "heavy",
    ):
        table.add_column(column)
    for week in document.weeks:
        groups = ([("organization", week.organization)] if week.organization else []) + [
            (team_row.team, team_row) for team_row in week.teams
        ]
        for name, group in groups:
            table.add_row(
                str(week.week_start),
                name,
                str(group.people),
                str(group.active),
                f"{group.rate:.0%}",
                "yes" if group.goal_met else "no",
                *(str(group.cohorts[c]) for c in ("none", "light", "moderate", "heavy")),
            )
    console().print(table)


@clarity_app.command("leaderboard")
@fails_cleanly
def leaderboard(
    ctx: typer.Context,
    since: Since = None,
    until: Until = None,
    team: Annotated[str | None, typer.Option(help="A team (its individual board, if turned on)")] = None,
    rank_by: Annotated[str, typer.Option(help="outcomes or yield")] = "outcomes",
    as_json: AsJson = False,
) -> None:
    """Ranked by outcomes, never by tokens (the same as GET /api/v1/clarity/leaderboard)."""
    from meshclaw.api.clarity_shapes import leaderboard_out
    from meshclaw.clarity import views

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        view = views.leaderboard(
            session,
            org_id,
            None,
            since=since,
            until=until,
            team=team,
            rank_by=rank_by,
            today=context.clock.now().date(),
        )
        document = leaderboard_out(view)
    if as_json:
        _print_json(document)
        return
    table = Table(title=f"Leaderboard of {document.scope} by {document.rank_by}", title_justify="left")
    for column in ("rank", "name", "value units", "accepted", "per 1k effective tokens"):
        table.add_column(column)
    for entry in document.entries:
        per = entry.outcomes_per_1k_effective_tokens
        table.add_row(
            str(entry.rank),
            entry.label,
            f"{entry.value_units:g}",
            str(entry.accepted_outcomes),
            f"{per:.3f}" if per is not None else "-",
        )
    console().print(table)
