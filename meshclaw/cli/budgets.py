"""`meshclaw budgets list|set|remove`: budgets and rate limits from the server's shell.

Like the other commands it acts on the database directly, as the deployment's operator; `set` and
`remove` are recorded in the audit log as the CLI's (`admin.budget_set`, `admin.budget_removed`). A running
`meshclaw up` reloads budgets every 10 seconds, so a change made here applies there within that time.
`--json` prints exactly what GET /api/v1/budgets answers.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import orjson
import typer
from rich.table import Table

from meshclaw.cli.state import console, err_console, fails_cleanly, open_context
from meshclaw.db.row_ids import MAX_ROW_ID
from meshclaw.errors import InvalidInputError

if TYPE_CHECKING:
    from meshclaw.api.budgets import BudgetOut

# The commands import the database and API layers when they run, not when the CLI starts.

budgets_app = typer.Typer(
    help="Budgets (USD or tokens per UTC day, week, month) and rate limits per API key, user, team, agent.",
    no_args_is_help=True,
)


def _amount(out: BudgetOut, value: float | None) -> str:
    if value is None:
        return "—"
    return f"${value:,.2f}" if out.unit == "usd" else f"{value:,.0f}"


@budgets_app.command("list")
@fails_cleanly
def budgets_list(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every budget with what was spent in its current period and when that period resets."""
    from meshclaw.api.budgets import budget_out
    from meshclaw.limits.status import budget_status

    with open_context(ctx) as (context, _), context.db.session() as session:
        rows = [budget_out(status) for status in budget_status(session, now=context.clock.now())]
    if as_json:
        dumped = [row.model_dump(mode="json") for row in rows]
        sys.stdout.write(orjson.dumps(dumped, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if not rows:
        console().print("No budgets yet; add one with `meshclaw budgets set --user EMAIL --usd 5 --per day`.")
        return
    table = Table("id", "whose", "limit", "spent", "used", "resets (UTC)")
    for row in rows:
        used = f"{row.spent / row.amount:.0%}" if row.spent is not None else ""
        resets = f"{row.resets_at:%Y-%m-%d %H:%M}" if row.resets_at else ""
        table.add_row(str(row.id), row.subject, row.description, _amount(row, row.spent), used, resets)
    console().print(table)


def _one(**given: str | None) -> tuple[str, str]:
    chosen = [(name, value) for name, value in given.items() if value is not None]
    if len(chosen) != 1:
        names = ", ".join(f"--{name.replace('_', '-')}" for name in given)
        raise InvalidInputError(f"give exactly one of {names}")
    return chosen[0]


@budgets_app.command("set")
@fails_cleanly
def budgets_set(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option(help="A person, by email or id")] = None,
    team: Annotated[str | None, typer.Option(help="A team, by name or id")] = None,
    key: Annotated[str | None, typer.Option(help="An API key, by id or prefix")] = None,
    agent: Annotated[str | None, typer.Option(help="An agent, by id")] = None,
    usd: Annotated[float | None, typer.Option(help="USD per --per day, week or month")] = None,
    tokens: Annotated[float | None, typer.Option(help="Tokens per --per day, week, month or minute")] = None,
    requests: Annotated[float | None, typer.Option(help="Requests per minute")] = None,
    concurrent: Annotated[float | None, typer.Option(help="Calls in flight at once")] = None,
    per: Annotated[str | None, typer.Option(help="day, week, month (UTC calendar periods) or minute")] = None,
    soft: Annotated[bool, typer.Option("--soft", help="Alert once per period instead of refusing")] = False,
) -> None:
    """Set a budget or rate limit; replaces the amount of an existing one with the same subject, unit,
    period and kind (hard or soft)."""
    from meshclaw.api.budget_audit import record_budget
    from meshclaw.api.budgets import budget_out
    from meshclaw.limits import store
    from meshclaw.limits.status import budget_status

    subject_type, ref = _one(user=user, team=team, key=key, agent=agent)
    unit, amount = _one(
        usd=None if usd is None else str(usd),
        tokens=None if tokens is None else str(tokens),
        requests=None if requests is None else str(requests),
        concurrent=None if concurrent is None else str(concurrent),
    )
    period = "minute" if unit == "requests" and per is None else per
    with open_context(ctx) as (context, _), context.db.session() as session:
        now = context.clock.now()
        subject = store.resolve_subject(session, "api_key" if subject_type == "key" else subject_type, ref)
        budget, replaced = store.set_budget(
            session,
            subject=subject,
            unit=unit,
            period=period,
            enforcement="soft" if soft else "hard",
            amount=store.raw_amount(unit, float(amount)),
            created_by_user_id=None,
            now=now,
        )
        record_budget(
            context, session, None, kind="admin.budget_set", budget=budget, subject=subject, replaced=replaced
        )
        out = budget_out(budget_status(session, now=now, budgets=[budget])[0])
    verb = "Added" if replaced is None else "Changed"
    console().print(
        f"{verb} budget {out.id}: {out.subject}, {out.description}.", highlight=False, soft_wrap=True
    )
    err_console().print(
        "note: a running `meshclaw up` applies this within 10 seconds.",
        highlight=False,
    )


@budgets_app.command("remove")
@fails_cleanly
def budgets_remove(
    ctx: typer.Context,
    budget_id: Annotated[int, typer.Argument(help="The id `list` shows", min=1, max=MAX_ROW_ID)],
) -> None:
    """Remove a budget; calls are no longer limited by it (a running server within 10 seconds)."""
    from meshclaw.api.budget_audit import record_budget
    from meshclaw.limits import store

    with open_context(ctx) as (context, _), context.db.session() as session:
        found = store.get_budget(session, budget_id)
        subject = store.subject_refs(session, [found])[(found.subject_type, found.subject_id)]
        budget = store.delete_budget(session, budget_id)
        record_budget(context, session, None, kind="admin.budget_removed", budget=budget, subject=subject)
    console().print(f"Removed budget {budget.id}.", highlight=False)
