"""The three things the benchmark sends load to, each started fresh for the run and stopped after it.

- direct: the stub upstream itself (tests.stub_upstream in its own process), the ceiling on this box;
- LiteLLM 1.109.1's proxy, 1 worker, no database (master key only: its PostgreSQL mode needs Prisma
  engine binaries this machine cannot download), from the venv bench/gateway/install.sh builds;
- MeshClaw: `meshclaw up` (one uvicorn worker) on a fresh data directory with one admin, a provider on the
  stub made by `meshclaw providers add`, and a key with the `gateway` scope, all made by the CLI.

The stub insists on the provider key (`--require-key`), so every target must really pass it upstream."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.gateway.procs import rss_mib
from tests.stub_upstream import RunningStub, free_port, stub_process

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM_KEY = "sk-bench-upstream-provider-key"
LITELLM_MASTER_KEY = "sk-bench-litellm-master"
LITELLM_VERSION = "1.109.1"


class Unavailable(Exception):
    """A target that cannot run here; the message says why and what to do."""


@dataclass
class Target:
    name: str
    base: str
    """Scheme, host and port; the OpenAI routes are under /v1."""
    key: str
    pid: int
    idle_rss_mib: float = 0.0


def _wait_http(
    url: str, *, process: subprocess.Popen[bytes], seconds: float, headers: dict[str, str] | None = None
) -> int:
    """Poll `url` until it answers (any status); return the status."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (http only)
            with urllib.request.urlopen(request, timeout=5) as reply:  # noqa: S310
                return int(reply.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except OSError:
            if process.poll() is not None:
                raise Unavailable(f"exited with status {process.returncode} before answering {url}") from None
            if time.monotonic() > deadline:
                raise Unavailable(f"no answer from {url} within {seconds:.0f} s") from None
            time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def stub() -> Iterator[tuple[RunningStub, Target]]:
    # The stub keeps no per-request records in a benchmark (only counts), so its memory stays flat.
    with stub_process(args=("--require-key", UPSTREAM_KEY, "--max-records", "0")) as running:
        assert running.process is not None
        target = Target("direct", f"http://127.0.0.1:{running.port}", UPSTREAM_KEY, running.process.pid)
        target.idle_rss_mib = rss_mib(target.pid)[0]
        yield running, target


@contextmanager
def litellm(upstream: RunningStub, *, bench_dir: Path, logs: Path) -> Iterator[Target]:
    executable = bench_dir / "venv" / "bin" / "litellm"
    if not executable.exists():
        raise Unavailable(f"{executable} is missing: run bench/gateway/install.sh first")
    port = free_port()
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no outbound network: use the bundled cost map
        "BENCH_STUB_BASE_URL": upstream.url,
        "BENCH_STUB_ROOT_URL": upstream.url.removesuffix("/v1"),
        "BENCH_UPSTREAM_KEY": UPSTREAM_KEY,
        "BENCH_LITELLM_MASTER_KEY": LITELLM_MASTER_KEY,
    }
    command = [str(executable), "--config", str(ROOT / "bench/gateway/litellm.yaml"), "--host", "127.0.0.1",
               "--port", str(port), "--num_workers", "1"]  # fmt: skip
    with (logs / "litellm.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=bench_dir)
    try:
        _wait_http(f"http://127.0.0.1:{port}/health/liveliness", process=process, seconds=120)
        target = Target(
            f"LiteLLM {LITELLM_VERSION}", f"http://127.0.0.1:{port}", LITELLM_MASTER_KEY, process.pid
        )
        target.idle_rss_mib = rss_mib(process.pid)[0]
        yield target
    finally:
        _stop(process)


def _meshclaw(data_dir: Path, *args: str, env: dict[str, str]) -> str:
    command = [str(ROOT / ".venv/bin/meshclaw"), "--data-dir", str(data_dir), *args]
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False
    )
    if done.returncode != 0:
        raise Unavailable(
            f"`meshclaw {' '.join(args)}` failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-400:]}"
        )
    return done.stdout


@contextmanager
def meshclaw(upstream: RunningStub, *, logs: Path) -> Iterator[Target]:
    with ExitStack() as cleanup:
        data_dir = Path(tempfile.mkdtemp(prefix="meshclaw-bench-gateway-"))
        cleanup.callback(shutil.rmtree, data_dir, ignore_errors=True)
        # Default settings (logging included), as LiteLLM runs with its defaults.
        env = {**os.environ, "MESHCLAW_BENCH_UPSTREAM_KEY": UPSTREAM_KEY}
        for name in [
            name for name in env if name.startswith("MESHCLAW_") and name != "MESHCLAW_BENCH_UPSTREAM_KEY"
        ]:
            env.pop(name)
        _meshclaw(data_dir, "users", "add", "bench-admin@example.com", "--role", "admin", env=env)
        _meshclaw(data_dir, "providers", "add", "stub", "--kind", "openai-compatible", "--base-url", upstream.url,
                  "--models", "stub-small", "--api-key-env", "MESHCLAW_BENCH_UPSTREAM_KEY", env=env)  # fmt: skip
        _meshclaw(data_dir, "providers", "add", "stub-anthropic", "--kind", "anthropic", "--base-url",
                  upstream.url.removesuffix("/v1"), "--models", "stub-claude", "--api-key-env",
                  "MESHCLAW_BENCH_UPSTREAM_KEY", env=env)  # fmt: skip
        created = _meshclaw(data_dir, "keys", "create", "--user", "bench-admin@example.com", "--name", "bench",
                            "--scope", "gateway", env=env)  # fmt: skip
        key = created.strip().splitlines()[-1].strip()
        port = free_port()
        with (logs / "meshclaw.log").open("wb") as log:
            process = subprocess.Popen(
                [str(ROOT / ".venv/bin/meshclaw"), "--data-dir", str(data_dir), "up", "--port", str(port)],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
            )  # fmt: skip
        cleanup.callback(_stop, process)
        base = f"http://127.0.0.1:{port}"
        _wait_http(f"{base}/healthz", process=process, seconds=60)
        status = _wait_http(
            f"{base}/v1/models", process=process, seconds=10, headers={"Authorization": f"Bearer {key}"}
        )
        if status != 200:
            raise Unavailable(
                f"GET /v1/models answered {status}: MeshClaw's gateway is not there yet (or the key was refused)"
            )
        target = Target("MeshClaw", base, key, process.pid)
        target.idle_rss_mib = rss_mib(process.pid)[0]
        yield target
