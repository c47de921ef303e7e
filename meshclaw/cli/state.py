"""What every command shares: the options given before the command, and building the app context.

The CLI runs as the operator of the deployment (it has the data directory and the database URL), so it
acts directly on the database, like an administrator's shell on the server.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from meshclaw.errors import MeshclawError

if TYPE_CHECKING:
    from meshclaw.config import Settings
    from meshclaw.context import AppContext

# Nothing here imports the database or the server at start-up: `meshclaw --help` and every command
# parse their arguments without them, and each command imports what it uses when it runs.

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class CliState:
    config_file: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    def settings(self, **more: Any) -> Settings:
        from meshclaw.config import load_settings

        return load_settings(self.config_file, **{**self.overrides, **more})


def state_of(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


# Consoles are made when a command prints, not at import: rich fixes a console's width and height from
# COLUMNS and LINES when it is made, so one made at import would keep the size of whatever environment
# first imported the module (an in-process test run, or a pytest-xdist worker's 80x24).
def console() -> Console:
    """A console on stdout sized for the terminal the command runs in."""
    return Console()


def err_console() -> Console:
    """A console on stderr, for errors and notes that must not mix with a command's output."""
    return Console(stderr=True)


def fails_cleanly(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a MeshclawError, or a file that cannot be read or written (OSError: missing, a directory, a
    name too long), into `error: <message>` on stderr and exit code 2, instead of a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except MeshclawError as exc:
            err = err_console()
            err.print(f"[red]error:[/red] {exc.message}", highlight=False)
            details = getattr(exc, "errors", None)
            if details:
                for item in details[:50]:
                    err.print(f"  {item}", highlight=False, markup=False)
            sys.exit(2)
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            err_console().print(f"[red]error:[/red] {exc.strerror or exc}{where}", highlight=False)
            sys.exit(2)

    return wrapper


@contextmanager
def open_context(ctx: typer.Context) -> Iterator[tuple[AppContext, int]]:
    """The app context on a migrated database, and the organization id (created on first use)."""
    from meshclaw.context import AppContext
    from meshclaw.db.migrate import upgrade
    from meshclaw.identity import store

    settings = state_of(ctx).settings()
    context = AppContext.from_settings(settings)
    try:
        upgrade(context.db)
        with context.db.session() as session:
            org, _ = store.ensure_org(session, name=settings.org_name, now=context.clock.now())
            org_id = org.id
        yield context, org_id
    finally:
        context.db.dispose()
