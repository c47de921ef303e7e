"""`meshclaw up` as a real server process, for the tests that kill it (-9) and start it again: the crash
and durability tests of runs and of the gateway's metering."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import wait_until_answers

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 180
"""Generous: on a shared 2-core machine under load, starting Python and importing everything is slow."""


def start_meshclaw_up(data_dir: Path, port: int, settings: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start `meshclaw up` on `port` with the data directory and `settings` (MESHCLAW_* variables; the
    test process's own are not passed on), wait until /healthz answers, and return the process. Its
    stderr goes to `server-<port>.log` in the data directory; if it does not answer, the process is
    killed and the error ends with the log's tail."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MESHCLAW_")},
        "MESHCLAW_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(REPO),
        **settings,
    }
    log = data_dir / f"server-{port}.log"
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "meshclaw"), "up", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "ab"),  # noqa: SIM115 - closed with the process
    )
    try:
        wait_until_answers(
            f"http://127.0.0.1:{port}/healthz",
            within_s=START_TIMEOUT_S,
            what="meshclaw up",
            alive=lambda: process.poll() is None,
            pause_s=0.1,
        )
    except RuntimeError as exc:
        process.kill()
        raise RuntimeError(f"{exc}: {log.read_text()[-3000:]}") from None
    return process
