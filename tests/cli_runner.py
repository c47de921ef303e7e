"""The `meshclaw` command run in-process: the same Typer app, arguments, environment and exit codes as the
installed entry point, without a new interpreter per call.

A subprocess costs several seconds of imports per call on the 2-core test machine (over a third of the
suite's time went there); each area keeps one test through the real entry point (`entry_point`), so the
installed script is still covered. Settings come from `MESHCLAW_*` variables, so the developer's own are
removed for the call. The command runs on a worker thread: the session's Playwright keeps an event loop
marked running on the main thread, and a command that runs a loop of its own would fail there. An
exception that escapes a command (a crash the real entry point would print as a traceback) fails the test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from meshclaw.cli.main import app

ENTRY_POINT = Path(sys.executable).with_name("meshclaw")


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str


def _environment(data_dir: Path, database_url: str | None, extra: dict[str, str] | None) -> dict[str, str]:
    env = {"MESHCLAW_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    if database_url is not None:
        env["MESHCLAW_DATABASE_URL"] = database_url
    return {**env, **(extra or {})}


def run_cli(
    data_dir: Path,
    *args: str,
    database_url: str | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> Done:
    """`meshclaw ARGS` with MESHCLAW_DATA_DIR (and MESHCLAW_DATABASE_URL) set, run in-process."""
    unset: dict[str, str | None] = dict.fromkeys((k for k in os.environ if k.startswith("MESHCLAW_")), None)
    environment: dict[str, str | None] = {**unset, **_environment(data_dir, database_url, env)}
    cwd = Path.cwd()

    def invoke() -> Done:
        os.chdir(data_dir)  # relative paths in arguments resolve as they would in the operator's shell
        try:
            result = CliRunner().invoke(app, list(args), input=stdin, env=environment)
        finally:
            os.chdir(cwd)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Done(result.exit_code, result.stdout, result.stderr)

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(invoke).result()


def entry_point(
    data_dir: Path,
    *args: str,
    database_url: str | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Done:
    """`meshclaw ARGS` through the installed script, in a subprocess (for the tests of the entry point)."""
    assert ENTRY_POINT.exists(), f"the entry point {ENTRY_POINT} is not installed; run `make test-deps`"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MESHCLAW_")}
    done = subprocess.run(
        [str(ENTRY_POINT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=data_dir,
        env={**clean, **_environment(data_dir, database_url, env)},
        check=False,
    )
    return Done(done.returncode, done.stdout, done.stderr)
