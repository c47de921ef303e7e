"""`meshclaw doctor`: check the configuration, the database, migrations, provider keys, metering events
set aside and the port; say what to fix.

Provider keys are checked in the environment `doctor` runs in: run it where `meshclaw up` runs (same
service environment), since that is where the server reads each provider's key variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from meshclaw.cli.serve import port_is_free
from meshclaw.cli.state import state_of
from meshclaw.errors import MeshclawError

if TYPE_CHECKING:
    from meshclaw.config import Settings
    from meshclaw.db.engine import Database


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _checks(settings: Settings, *, check_port: bool) -> list[Check]:
    from sqlalchemy import text

    from meshclaw.db.engine import Database
    from meshclaw.db.migrate import current_revision, head_revision

    results: list[Check] = [Check("config", True, "settings are valid")]
    if settings.database_url is None:
        data_dir = settings.data_dir.resolve()
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            writable = os.access(data_dir, os.W_OK)
        except OSError:
            writable = False
        results.append(
            Check(
                "data directory",
                writable,
                str(data_dir)
                if writable
                else f"{data_dir} is not writable; set MESHCLAW_DATA_DIR to a writable directory",
            )
        )
    db = Database(settings.resolved_database_url)
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        results.append(Check("database", True, db.engine.url.render_as_string(hide_password=True)))
        current, head = current_revision(db), head_revision()
        if current == head:
            results.append(Check("migrations", True, f"at {head}"))
            results.extend(_provider_checks(db))
        else:
            results.append(
                Check(
                    "migrations",
                    False,
                    f"schema at {current or 'nothing'}, code needs {head}; `meshclaw up` applies them",
                )
            )
    except Exception as exc:  # every driver error means the same advice
        results.append(
            Check(
                "database",
                False,
                f"cannot connect ({type(exc).__name__}); check MESHCLAW_DATABASE_URL "
                "and that the server is running",
            )
        )
    finally:
        db.dispose()
    results.append(_refused_check(settings))
    if check_port:
        results.append(_port_check(settings))
    return results


def _refused_check(settings: Settings) -> Check:
    """Usage the database refused is missing from every number until someone retries or drops it."""
    from meshclaw.metering.refused import read_refused

    count = len(read_refused(settings.metering_journal_dir)) if settings.metering_journal_dir.exists() else 0
    if count == 0:
        return Check("metering", True, "no events set aside")
    return Check(
        "metering",
        False,
        f"{count} events the database refused are set aside; `meshclaw usage refused` lists them, "
        "--retry stores them again",
    )


def _provider_checks(db: Database) -> list[Check]:
    """One failing check per enabled provider whose key variable is unset here, or one passing check."""
    from meshclaw.providers.registry import list_providers

    with db.session() as session:
        enabled = [provider for provider in list_providers(session) if provider.enabled]
    if not enabled:
        return [Check("providers", True, "none enabled; add one with `meshclaw providers add`")]
    missing = [provider for provider in enabled if provider.api_key_env and not provider.api_key()]
    if not missing:
        return [Check("providers", True, f"{len(enabled)} enabled; every key variable is set here")]
    return [
        Check(
            f"provider {provider.name}",
            False,
            f"{provider.api_key_env} is not set in this environment, so calls to {provider.name} will fail; "
            "set it in the environment `meshclaw up` runs in (e.g. systemd Environment=, the container's "
            f"env) and restart it, or `meshclaw providers disable {provider.name}`",
        )
        for provider in missing
    ]


def _port_check(settings: Settings) -> Check:
    import httpx

    where = f"{settings.host}:{settings.port}"
    if port_is_free(settings.host, settings.port):
        return Check("port", True, f"{where} is free")
    try:
        answer = httpx.get(f"{settings.resolved_public_url}/healthz", timeout=2)
        if answer.status_code == 200 and answer.text == "ok":
            return Check("port", True, f"MeshClaw is already running on {where}")
    except httpx.HTTPError:
        pass
    return Check("port", False, f"{where} is used by another program; pass --port or set MESHCLAW_PORT")


def doctor(
    ctx: typer.Context,
    skip_port: Annotated[
        bool, typer.Option("--skip-port", help="Do not check that the port is free")
    ] = False,
) -> None:
    """Check config, database, migrations, provider keys and port; exit 1 if something needs fixing."""
    console = Console()
    try:
        settings = state_of(ctx).settings()
    except MeshclawError as exc:
        console.print(f"[red]✗ config[/red]: {exc.message}", highlight=False)
        raise typer.Exit(1) from None
    results = _checks(settings, check_port=not skip_port)
    table = Table("check", "status", "detail")
    for check in results:
        table.add_row(check.name, "[green]ok[/green]" if check.ok else "[red]fix[/red]", check.detail)
    console.print(table)
    if not all(check.ok for check in results):
        raise typer.Exit(1)
