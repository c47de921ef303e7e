"""`python -m meshclaw` is the same as the `meshclaw` command."""

from __future__ import annotations

from meshclaw.cli.main import run

run()
