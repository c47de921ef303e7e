"""`meshclaw up`: migrate, bootstrap the organization, and serve everything from one process."""

from __future__ import annotations

import logging
import socket
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console

from meshclaw.cli.state import fails_cleanly, state_of
from meshclaw.errors import InvalidInputError

log = logging.getLogger("meshclaw")


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@fails_cleanly
def up(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Bind address [env MESHCLAW_HOST; default 127.0.0.1]")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [env MESHCLAW_PORT; default 8700]")] = None,
    log_json: Annotated[bool, typer.Option("--log-json", help="Structured JSON logs")] = False,
) -> None:
    """Start MeshClaw: API, web UI, gateway and ingest in one process, on SQLite unless configured otherwise."""
    import uvicorn

    from meshclaw.audit.keys import load_audit_key
    from meshclaw.context import AppContext
    from meshclaw.db.migrate import upgrade
    from meshclaw.identity.bootstrap import bootstrap
    from meshclaw.logs import configure_logging
    from meshclaw.server.app import create_app
    from meshclaw.vault.keys import load_kek

    settings = state_of(ctx).settings(host=host, port=port, log_json=log_json or None)
    configure_logging(level=settings.log_level, json_lines=settings.log_json)
    if not port_is_free(settings.host, settings.port):
        raise InvalidInputError(
            f"port {settings.port} on {settings.host} is in use; stop the other process or pass --port",
            field="port",
        )
    # The audit HMAC key and the vault's key-encryption key: created here on a first start (with the log
    # line saying production sets them), and a malformed one stops the start instead of a later request.
    load_audit_key(settings.data_dir)
    load_kek(settings.data_dir)
    context = AppContext.from_settings(settings)
    upgrade(context.db)
    with context.db.session() as session:
        result = bootstrap(
            session,
            org_name=settings.org_name,
            token_ttl=timedelta(hours=settings.setup_token_ttl_hours),
            now=context.clock.now(),
        )
    console = Console()
    if result.org_created:
        console.print(f"Created organization [bold]{result.org.name}[/bold].")
    if result.setup_token:
        # Printed to the terminal only, never to the log: the link is a credential.
        console.print(
            "No admin yet. Open this one-time link to set the first admin's password "
            f"(valid {settings.setup_token_ttl_hours} h):\n  {settings.resolved_public_url}/setup/{result.setup_token}",
            highlight=False,
        )
    console.print(f"MeshClaw is serving on {settings.resolved_public_url}", highlight=False)
    app = create_app(context, freeze_gc=True)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
        )
    )
    try:
        server.run()
    finally:
        context.db.dispose()
