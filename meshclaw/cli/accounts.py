"""`meshclaw connectors list|show` and `meshclaw accounts add|list|show|change|enable|disable|remove|check`:
the connectors this installation has and the accounts agents act through, from the server's shell.

A config is a TOML, YAML or JSON file shaped like the connector's schema (`meshclaw connectors show
NAME`), with every secret written as `vault:NAME` (store it first with `meshclaw vault set NAME`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from meshclaw.cli.state import fails_cleanly, open_context

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

connectors_app = typer.Typer(help="The systems agents can reach (email, chat, calendar, deployments...).",
                             no_args_is_help=True)  # fmt: skip
accounts_app = typer.Typer(help="Connector accounts agents act through (secrets stay in the vault).",
                           no_args_is_help=True)  # fmt: skip

_OWNER_HELP = "Owner's email; without it the account belongs to the organization"


def _owner_id(session: Session, org_id: int, email: str | None) -> int | None:
    from meshclaw.identity.store import user_id_by_email

    return user_id_by_email(session, org_id, email)


def _read_config(path: Path) -> dict[str, Any]:
    """A config file by its suffix: .toml, .yaml / .yml or .json."""
    import tomllib

    from meshclaw.errors import InvalidInputError

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from None
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml", ".json"):
        raise InvalidInputError(f"{path.name}: use a .toml, .yaml, .yml or .json file")
    try:
        if suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise InvalidInputError(f"{path.name}: not valid {suffix.lstrip('.').upper()}: {exc}") from None
    except Exception as exc:  # yaml.YAMLError, imported lazily
        raise InvalidInputError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{path.name} must hold a table (an object) of config fields")
    return data


@connectors_app.command("list")
@fails_cleanly
def connectors_list() -> None:
    """Every connector, with its tools' count, events and what it answers."""
    from rich.console import Console
    from rich.table import Table

    from meshclaw.accounts.tools import NoAccounts
    from meshclaw.connectors.catalog import all_connectors

    table = Table("name", "title", "tools", "events", "inbound", "chat approvals", "conditions")
    for connector in all_connectors():
        events = sorted({kind for spec in connector.events for kind in spec.emits})
        table.add_row(connector.name, connector.title, str(len(connector.tools(NoAccounts()))),
                      ", ".join(events), "yes" if connector.inbound else "",
                      "yes" if connector.ask_approval else "", ", ".join(sorted(connector.conditions)))  # fmt: skip
    Console().print(table)


@connectors_app.command("show")
@fails_cleanly
def connectors_show(name: Annotated[str, typer.Argument(help="e.g. email")]) -> None:
    """A connector's tools (effect class, scopes) and the JSON Schema of its account config."""
    from rich.console import Console
    from rich.table import Table

    from meshclaw.accounts.tools import NoAccounts
    from meshclaw.connectors.catalog import connector_names, load
    from meshclaw.errors import NotFoundError

    if name not in connector_names():
        raise NotFoundError(f"no connector named '{name}' (known: {', '.join(connector_names())})")
    connector = load(name)
    table = Table("tool", "effect", "scopes", "description")
    for tool in connector.tools(NoAccounts()):
        table.add_row(tool.name, tool.effect.value, ", ".join(tool.scopes), tool.description)
    console = Console()
    console.print(table)
    console.print("Account config (JSON Schema):", highlight=False)
    typer.echo(json.dumps(connector.config.model_json_schema(), indent=2))


@accounts_app.command("add")
@fails_cleanly
def accounts_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What grants call it, e.g. work-mail")],
    connector: Annotated[str, typer.Option(help="e.g. email, slack, matrix, calendar, deploy, webhook")],
    config: Annotated[Path, typer.Option(help="TOML, YAML or JSON file; secrets as vault:NAME")],
    owner: Annotated[str | None, typer.Option(help=_OWNER_HELP)] = None,
) -> None:
    """Add an account after checking its config against the connector's schema."""
    from meshclaw.accounts import store
    from meshclaw.api.audit_trail import record_admin_action

    data = _read_config(config)
    with open_context(ctx) as (context, org_id), context.db.session() as session:
        row = store.add_account(session, org_id=org_id, name=name, connector=connector,
                                owner_user_id=_owner_id(session, org_id, owner), config=data, by_user_id=None,
                                now=context.clock.now())  # fmt: skip
        record_admin_action(context, session, None, kind="admin.account_added", target=f"account:{row.name}",
                            arguments={"connector": row.connector, "owner_user_id": row.owner_user_id,
                                       "config": row.config})  # fmt: skip
        whose = owner or "the organization"
    typer.echo(f"Added {connector} account {name} ({whose}). Check it with `meshclaw accounts check {name}`.")


@accounts_app.command("change")
@fails_cleanly
def accounts_change(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument()],
    config: Annotated[Path, typer.Option(help="The whole new config (TOML, YAML or JSON)")],
) -> None:
    """Replace an account's config (checked like `add`); its event sources restart within seconds."""
    from meshclaw.accounts import store
    from meshclaw.api.audit_trail import record_admin_action

    data = _read_config(config)
    with open_context(ctx) as (context, org_id), context.db.session() as session:
        row = store.get_account(session, org_id, name)
        store.update_account(session, row, config=data, now=context.clock.now())
        record_admin_action(context, session, None, kind="admin.account_changed", target=f"account:{name}",
                            arguments={"config": row.config})  # fmt: skip
    typer.echo(f"Changed account {name}.")


def _switch(ctx: typer.Context, name: str, enabled: bool) -> None:
    from meshclaw.accounts import store
    from meshclaw.api.audit_trail import record_admin_action

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        row = store.get_account(session, org_id, name)
        store.update_account(session, row, enabled=enabled, now=context.clock.now())
        record_admin_action(context, session, None, kind="admin.account_changed", target=f"account:{name}",
                            arguments={"enabled": enabled})  # fmt: skip
    typer.echo(
        f"Account {name} is {'enabled' if enabled else 'disabled: its tools refuse and its events stop'}."
    )


@accounts_app.command("enable")
@fails_cleanly
def accounts_enable(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Turn an account back on."""
    _switch(ctx, name, True)


@accounts_app.command("disable")
@fails_cleanly
def accounts_disable(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Turn an account off without forgetting its config: tools refuse it, its event sources stop."""
    _switch(ctx, name, False)


@accounts_app.command("remove")
@fails_cleanly
def accounts_remove(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Remove an account (its vault secrets stay; delete them with `meshclaw vault delete`)."""
    from meshclaw.accounts import store
    from meshclaw.api.audit_trail import record_admin_action

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        row = store.get_account(session, org_id, name)
        session.delete(row)
        record_admin_action(context, session, None, kind="admin.account_removed", target=f"account:{name}",
                            arguments={"connector": row.connector})  # fmt: skip
    typer.echo(f"Removed account {name}.")


@accounts_app.command("list")
@fails_cleanly
def accounts_list(ctx: typer.Context) -> None:
    """Every account: connector, owner, enabled."""
    from rich.console import Console
    from rich.table import Table

    from meshclaw.accounts import store
    from meshclaw.db.models.identity import User

    table = Table("name", "connector", "owner", "enabled", "updated")
    with open_context(ctx) as (context, org_id), context.db.session() as session:
        for row in store.list_accounts(session, org_id):
            owner = session.get(User, row.owner_user_id) if row.owner_user_id is not None else None
            table.add_row(row.name, row.connector, owner.email if owner else "organization",
                          "yes" if row.enabled else "no", row.updated_at.isoformat(timespec="seconds"))  # fmt: skip
    Console().print(table)


@accounts_app.command("show")
@fails_cleanly
def accounts_show(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """An account's config as stored (secrets appear as vault:NAME)."""
    from meshclaw.accounts import store

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        row = store.get_account(session, org_id, name)
        shown = {"name": row.name, "connector": row.connector, "owner_user_id": row.owner_user_id,
                 "enabled": row.enabled, "config": row.config}  # fmt: skip
    typer.echo(json.dumps(shown, indent=2, ensure_ascii=False))


@accounts_app.command("check")
@fails_cleanly
def accounts_check(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Prove the account works: log in and list something (exit 1 when it does not)."""
    import asyncio

    from meshclaw.accounts import store
    from meshclaw.connectors.catalog import load
    from meshclaw.connectors.contract import AccountError
    from meshclaw.vault.store import Vault

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        row = store.get_account(session, org_id, name)
        try:
            account = store.open_account(session, Vault.for_data_dir(context.settings.data_dir), row)
        except AccountError as exc:
            typer.echo(f"{name}: {exc}", err=True)
            raise typer.Exit(1) from None
    try:
        detail = asyncio.run(asyncio.wait_for(load(account.connector).check(account), 20))
    except TimeoutError:
        typer.echo(f"{name}: no answer within 20 s; check the host and port", err=True)
        raise typer.Exit(1) from None
    except Exception as exc:  # a connector's client error: its message carries no secret
        typer.echo(f"{name}: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{name}: ok, {detail}")
