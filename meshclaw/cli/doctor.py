"""`meshclaw doctor`: check the configuration, the database, migrations and the port; say what to fix."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from meshclaw.cli.serve import port_is_free
from meshclaw.cli.state import state_of
from meshclaw.config import Settings
from meshclaw.db.engine import Database
from meshclaw.db.migrate import current_revision, head_revision
from meshclaw.errors import MeshclawError


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _checks(settings: Settings, *, check_port: bool) -> list[Check]:
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
    if check_port:
        results.append(_port_check(settings))
    return results


def _port_check(settings: Settings) -> Check:
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
    """Check config, database, migrations and port; exit 1 if something needs fixing."""
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
