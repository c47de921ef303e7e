"""`meshclaw vault list|set|delete|rotate-kek`: secrets from the server's shell.

Values are read from stdin (or a hidden prompt on a terminal), never from the command line, where they
would land in shell history and in every process listing. Nothing here prints a value.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from meshclaw.cli.state import fails_cleanly, open_context

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

vault_app = typer.Typer(
    help="Encrypted secrets (connector credentials). Values are never shown.", no_args_is_help=True
)

_OWNER_HELP = "Owner's email; without it the secret belongs to the organization"


def _owner_id(session: Session, org_id: int, email: str | None) -> int | None:
    from meshclaw.identity.store import user_id_by_email

    return user_id_by_email(session, org_id, email)


def _read_value(name: str) -> str:
    if sys.stdin.isatty():
        value: str = typer.prompt(f"Value for {name}", hide_input=True, confirmation_prompt=True)
        return value
    # Piped: the whole input, minus one trailing newline (what `echo` or a here-string adds).
    return sys.stdin.read().removesuffix("\n").removesuffix("\r")


@vault_app.command("list")
@fails_cleanly
def vault_list(ctx: typer.Context) -> None:
    """Names and metadata of every secret (never values)."""
    from rich.console import Console
    from rich.table import Table

    from meshclaw.vault.store import list_secrets

    with open_context(ctx) as (context, org_id), context.db.session() as session:
        rows = list_secrets(session, org_id)
        table = Table("id", "owner", "name", "purpose", "version", "kek", "updated")
        for row in rows:
            table.add_row(
                str(row.id),
                row.owner,
                row.name,
                row.purpose or "",
                str(row.version),
                row.kek_id,
                row.updated_at.isoformat(timespec="seconds"),
            )
    Console().print(table)


@vault_app.command("set")
@fails_cleanly
def vault_set(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The secret's name, e.g. slack-bot-token")],
    owner: Annotated[str | None, typer.Option(help=_OWNER_HELP)] = None,
    purpose: Annotated[str | None, typer.Option(help="What it is for, e.g. the connector: slack")] = None,
) -> None:
    """Create NAME or replace its value. The value is read from stdin (or a hidden prompt)."""
    from meshclaw.audit.chain import AuditLog
    from meshclaw.audit.record import AuditRecord
    from meshclaw.vault.store import Vault

    value = _read_value(name)
    with open_context(ctx) as (context, org_id):
        vault = Vault.for_data_dir(context.settings.data_dir)
        audit = AuditLog.for_data_dir(context.settings.data_dir)
        with context.db.session() as session:
            now = context.clock.now()
            row, created = vault.put(
                session,
                org_id=org_id,
                owner_user_id=_owner_id(session, org_id, owner),
                name=name,
                value=value,
                purpose=purpose,
                now=now,
            )
            audit.append(
                session,
                AuditRecord(
                    kind="admin.vault_secret_created" if created else "admin.vault_secret_rotated",
                    invoked_by="cli",
                    target=f"vault_secret:{row.id}",
                    arguments={"name": row.name, "owner": row.owner, "purpose": row.purpose},
                    secret_values=[value],
                    outcome="ok",
                ),
                now=now,
            )
            message = f"{'Created' if created else 'Replaced'} secret {row.name} (id {row.id}, owner {row.owner}, version {row.version})."
    typer.echo(message)


@vault_app.command("delete")
@fails_cleanly
def vault_delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The secret's name")],
    owner: Annotated[str | None, typer.Option(help=_OWNER_HELP)] = None,
) -> None:
    """Delete NAME (its ciphertext is gone for good)."""
    from meshclaw.audit.chain import AuditLog
    from meshclaw.audit.record import AuditRecord
    from meshclaw.errors import NotFoundError
    from meshclaw.vault.store import delete_secret, find_secret, owner_of

    with open_context(ctx) as (context, org_id):
        audit = AuditLog.for_data_dir(context.settings.data_dir)
        with context.db.session() as session:
            owner_key = owner_of(_owner_id(session, org_id, owner))
            row = find_secret(session, org_id, owner=owner_key, name=name)
            if row is None:
                raise NotFoundError(f"no secret named {name!r} owned by {owner_key}")
            secret_id = row.id
            delete_secret(session, row)
            audit.append(
                session,
                AuditRecord(
                    kind="admin.vault_secret_deleted",
                    invoked_by="cli",
                    target=f"vault_secret:{secret_id}",
                    arguments={"name": name, "owner": owner_key},
                    outcome="ok",
                ),
                now=context.clock.now(),
            )
    typer.echo(f"Deleted secret {name} (id {secret_id}, owner {owner_key}).")


@vault_app.command("rotate-kek")
@fails_cleanly
def vault_rotate_kek(
    ctx: typer.Context,
    new_key_file: Annotated[
        Path, typer.Option(help="File holding the new key: base64 of 32 random bytes, mode 0600")
    ],
) -> None:
    """Re-wrap every data key with the new key-encryption key. Safe to run again after an interruption."""
    from meshclaw.audit.chain import AuditLog
    from meshclaw.audit.record import AuditRecord
    from meshclaw.errors import InvalidInputError
    from meshclaw.keyfile import write_key_file
    from meshclaw.vault.keys import ENV_VAR, kek_from_file, load_kek
    from meshclaw.vault.rotation import rotate_kek

    if not new_key_file.is_file():
        raise InvalidInputError(f"{new_key_file} does not exist", field="new_key_file")
    new = kek_from_file(new_key_file)
    with open_context(ctx) as (context, _):
        old, loaded = load_kek(context.settings.data_dir)
        if old.id == new.id:
            typer.echo(f"The vault already uses key {new.id}; nothing to do.")
            return
        done = rotate_kek(context.db, old=old, new=new)
        with context.db.session() as session:
            AuditLog.for_data_dir(context.settings.data_dir).append(
                session,
                AuditRecord(
                    kind="admin.vault_kek_rotated",
                    invoked_by="cli",
                    arguments={"from_kek": old.id, "to_kek": new.id, "rewrapped": done.rewrapped},
                    outcome="ok",
                ),
                now=context.clock.now(),
            )
        typer.echo(f"Re-wrapped {done.rewrapped} data key(s) ({done.already} already under {new.id}).")
        if loaded.source == "env":
            typer.echo(f"Now set {ENV_VAR} to the contents of {new_key_file} and restart the server.")
            return
        # The key lived in the data directory: replace it atomically, so the next start uses the new one.
        path = Path(loaded.where)
        staging = path.with_name(path.name + ".new")
        staging.unlink(missing_ok=True)
        write_key_file(staging, new.key)
        staging.replace(path)
        typer.echo(f"Replaced {path} with the new key; the old key is no longer needed.")
