"""`meshclaw prices list|set`: the model price table (USD per million tokens) from the server's shell.

`set` appends a version, like POST /api/v1/prices (and audited like it, with `invoked_by="cli"`); rows are
never edited, so the price used for any past call stays known.
"""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer
from rich.table import Table

from meshclaw.cli.state import console, err_console, fails_cleanly, open_context

prices_app = typer.Typer(help="Model prices, in USD per million tokens.", no_args_is_help=True)

_PRICE = {"min": 0.0, "max": 100_000.0}


@prices_app.command("list")
@fails_cleanly
def prices_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    model: Annotated[str | None, typer.Option(help="Only this model's versions")] = None,
) -> None:
    """Every price version, by model and date; `current` marks the one in force now."""
    from meshclaw.api.prices import prices_out
    from meshclaw.metering.prices import list_prices

    with open_context(ctx) as (context, _), context.db.session() as session:
        prices = [price for price in list_prices(session) if model is None or price.model == model]
        rows = prices_out(prices, context.clock.now())
    if as_json:
        dumped = [row.model_dump(mode="json") for row in rows]
        sys.stdout.write(orjson.dumps(dumped, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if not rows:
        console().print("No prices yet; add one with `meshclaw prices set MODEL --input X --output Y`.")
        return
    table = Table(
        "model", "from (UTC)", "input", "cache read", "cache write", "output", "reasoning", "in force"
    )
    for row in rows:
        table.add_row(
            row.model,
            f"{row.effective_from:%Y-%m-%d %H:%M}",
            *(
                f"{value:g}"
                for value in (row.input_uncached, row.cache_read, row.cache_write, row.output, row.reasoning)
            ),
            "yes" if row.current else "",
        )
    console().print(table)


@prices_app.command("set")
@fails_cleanly
def prices_set(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="The model name as providers report it, e.g. gpt-4o")],
    input_price: Annotated[
        float, typer.Option("--input", help="Uncached input, USD per million tokens", **_PRICE)
    ],
    output_price: Annotated[float, typer.Option("--output", help="Output, USD per million tokens", **_PRICE)],
    cache_read: Annotated[
        float | None, typer.Option(help="Cached input read; defaults to --input", **_PRICE)
    ] = None,
    cache_write: Annotated[
        float | None, typer.Option(help="Input written to the cache; defaults to --input", **_PRICE)
    ] = None,
    reasoning: Annotated[
        float | None, typer.Option(help="Reasoning output; defaults to --output", **_PRICE)
    ] = None,
    effective_from: Annotated[
        str | None, typer.Option("--from", help="ISO date or date-time it applies from (UTC); default now")
    ] = None,
) -> None:
    """Add a price version for MODEL."""
    from meshclaw.api.upstream_audit import record_price_set
    from meshclaw.metering.prices import add_price
    from meshclaw.metering.queries import parse_time

    with open_context(ctx) as (context, _), context.db.session() as session:
        now = context.clock.now()
        price = add_price(
            session,
            model=model,
            input_uncached=input_price,
            output=output_price,
            cache_read=cache_read,
            cache_write=cache_write,
            reasoning=reasoning,
            effective_from=parse_time(effective_from, "--from") or now,
            created_by_user_id=None,
            now=now,
        )
        record_price_set(context, session, None, price)
    console().print(
        f"Added price {price.id} for {price.model} from {price.effective_from:%Y-%m-%d %H:%M} UTC: "
        f"input {price.input_uncached:g}, cache read {price.cache_read:g}, cache write {price.cache_write:g}, "
        f"output {price.output:g}, reasoning {price.reasoning:g} USD per million tokens.",
        highlight=False,
    )
    # A running server's recorder reloads the price table every 10 seconds, so say when this applies.
    err_console().print(
        "note: a running `meshclaw up` prices new calls with this version within 10 seconds.",
        highlight=False,
    )
