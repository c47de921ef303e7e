"""`meshclaw providers add|list|remove|enable|disable`: the model upstreams, from the server's shell.

The CLI writes the database directly, so a running server does not hear of the change: its routing table
reloads every 10 seconds (`LiveRoutes`), which every command that changes something says. Each change
is audited with `invoked_by="cli"`, as the API and the page audit theirs. Whether a provider's key
variable is set is checked in *this* shell's environment, which may differ from the server's; the note
after `add` says so.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import orjson
import typer
from rich.table import Table

from meshclaw.cli.state import console, err_console, fails_cleanly, open_context

providers_app = typer.Typer(
    help="Model upstreams (OpenAI, Anthropic, OpenAI-compatible) the gateway and agents call.",
    no_args_is_help=True,
)

_RELOAD_NOTE = "note: a running `meshclaw up` picks this change up within 10 seconds."


def _note(text: str) -> None:
    err_console().print(text, highlight=False, markup=False)


@providers_app.command("add")
@fails_cleanly
def providers_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Lower-case letters, digits, '-' and '_', e.g. openai")],
    kind: Annotated[str, typer.Option(help="openai, anthropic or openai-compatible")],
    base_url: Annotated[str, typer.Option(help="e.g. https://api.openai.com/v1")],
    models: Annotated[str, typer.Option(help="Comma-separated models it serves, e.g. gpt-4o,gpt-4o-mini")],
    api_key_env: Annotated[
        str | None,
        typer.Option(help="Name of the environment variable holding the key (never the key itself)"),
    ] = None,
) -> None:
    """Add an enabled provider serving MODELS."""
    from meshclaw.api.upstream_audit import record_provider_added
    from meshclaw.providers.registry import add_provider

    with open_context(ctx) as (context, _), context.db.session() as session:
        provider = add_provider(
            session,
            name=name,
            kind=kind,
            base_url=base_url,
            api_key_env=api_key_env,
            models=models.split(","),
            now=context.clock.now(),
        )
        record_provider_added(context, session, None, provider)
    console().print(
        f"Added provider {provider.name} ({provider.kind.value}, {provider.base_url}) serving "
        f"{', '.join(provider.models)}.",
        highlight=False,
        markup=False,
    )
    if provider.api_key_env and not os.environ.get(provider.api_key_env):
        _note(
            f"note: {provider.api_key_env} is not set in this shell; set it in the environment of the "
            "`meshclaw up` process (and restart it) so the server can read the key."
        )
    _note(_RELOAD_NOTE)


@providers_app.command("list")
@fails_cleanly
def providers_list(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON")] = False,
) -> None:
    """Every provider; `key set` says whether its variable is set in this shell (never its value)."""
    from meshclaw.api.providers import provider_out
    from meshclaw.providers.registry import list_providers

    with open_context(ctx) as (context, _), context.db.session() as session:
        rows = [provider_out(provider) for provider in list_providers(session)]
    if as_json:
        dumped = [row.model_dump(mode="json") for row in rows]
        sys.stdout.write(orjson.dumps(dumped, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if not rows:
        console().print(
            "No providers yet; add one with `meshclaw providers add NAME --kind openai "
            "--base-url https://api.openai.com/v1 --api-key-env OPENAI_API_KEY --models gpt-4o-mini`.",
            highlight=False,
            markup=False,
        )
        return
    table = Table("name", "kind", "base URL", "key variable", "key set here", "models", "enabled")
    for row in rows:
        key_set = ("yes" if row.api_key_set else "NO") if row.api_key_env else "-"
        table.add_row(
            row.name,
            row.kind,
            row.base_url,
            row.api_key_env or "-",
            key_set,
            ", ".join(row.models),
            "yes" if row.enabled else "no",
        )
    console().print(table)


@providers_app.command("remove")
@fails_cleanly
def providers_remove(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The provider's name")]
) -> None:
    """Remove a provider; its models stop routing."""
    from meshclaw.api.upstream_audit import record_provider_removed
    from meshclaw.providers.registry import remove_provider

    with open_context(ctx) as (context, _), context.db.session() as session:
        remove_provider(session, name)
        record_provider_removed(context, session, None, name)
    console().print(f"Removed provider {name}.", highlight=False, markup=False)
    _note(_RELOAD_NOTE)


def _switch(ctx: typer.Context, name: str, *, enabled: bool) -> None:
    from meshclaw.api.upstream_audit import record_provider_change
    from meshclaw.providers.registry import get_provider, set_enabled

    with open_context(ctx) as (context, _), context.db.session() as session:
        before = get_provider(session, name)
        provider = set_enabled(session, name, enabled=enabled)
        record_provider_change(context, session, None, before=before, after=provider)
    state = "enabled" if enabled else "disabled"
    console().print(f"Provider {provider.name} is {state}.", highlight=False, markup=False)
    _note(_RELOAD_NOTE)


@providers_app.command("enable")
@fails_cleanly
def providers_enable(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The provider's name")]
) -> None:
    """Route the provider's models to it again (refused if another enabled provider serves one)."""
    _switch(ctx, name, enabled=True)


@providers_app.command("disable")
@fails_cleanly
def providers_disable(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The provider's name")]
) -> None:
    """Stop routing to the provider, keeping its configuration."""
    _switch(ctx, name, enabled=False)
