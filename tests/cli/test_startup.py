"""The CLI starts without the database, the server or the agent runtime: each command imports what it
uses when it runs, so `meshclaw --help` and argument errors are quick."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlalchemy", "fastapi", "alembic", "uvicorn", "httpx", "pydantic_ai", "dbos", "mcp", "cryptography")


def test_importing_the_cli_loads_no_heavy_package() -> None:
    probe = "import sys, meshclaw.cli.main; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = set(done.stdout.split())
    assert "meshclaw.cli.main" in loaded  # the probe really imported the CLI
    assert [name for name in HEAVY if name in loaded] == []
