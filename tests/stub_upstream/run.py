"""Serving the stub: in a thread of the test's process, in a subprocess of its own, or from the command line."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import uvicorn

from tests.stub_upstream.app import DEFAULT_MODELS, Stub


def _config(stub: Stub) -> uvicorn.Config:
    return uvicorn.Config(
        stub, loop="uvloop", http="httptools", lifespan="off", access_log=False, log_level="warning"
    )


@dataclass
class RunningStub:
    """A stub serving on `url`; `stub` is its ledger when it runs in this process (None in a subprocess)."""

    port: int
    stub: Stub | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The OpenAI-style base URL, e.g. http://127.0.0.1:PORT/v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    def stats(self, *, summary: bool = False) -> dict[str, Any]:
        query = "?summary=1" if summary else ""
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.port}/stub/stats{query}", timeout=10
        ) as response:
            result: dict[str, Any] = orjson.loads(response.read())
            return result

    def reset(self) -> None:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/stub/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()  # noqa: S310


def _bound_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


@contextmanager
def stub_in_thread(**options: Any) -> Iterator[RunningStub]:
    """Serve a `Stub(**options)` on a free port in a background thread, for tests."""
    stub = Stub(**options)
    sock = _bound_socket(0)
    server = uvicorn.Server(_config(stub))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="stub-upstream"
    )
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the stub upstream did not start")
        time.sleep(0.01)
    try:
        yield RunningStub(port=sock.getsockname()[1], stub=stub)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def stub_process(*, port: int | None = None, args: tuple[str, ...] = ()) -> Iterator[RunningStub]:
    """Serve the stub in its own process (its own GIL: what benchmarks and kill tests want)."""
    port = port or free_port()
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "tests.stub_upstream", "--port", str(port), *args]
    process = subprocess.Popen(command, cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    running = RunningStub(port=port, process=process)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                running.stats(summary=True)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the stub upstream did not start on port {port}") from None
                time.sleep(0.05)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="A fast, deterministic fake OpenAI/Anthropic upstream.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9101)
    parser.add_argument(
        "--models", default=",".join(DEFAULT_MODELS), help="comma-separated, for GET /v1/models"
    )
    parser.add_argument("--require-key", help="answer 401 unless this provider key is received")
    parser.add_argument(
        "--max-records", type=int, default=1_000_000, help="per-request records kept; the rest only counted"
    )
    args = parser.parse_args()
    stub = Stub(
        models=tuple(args.models.split(",")), require_key=args.require_key, max_records=args.max_records
    )
    config = _config(stub)
    config.host, config.port = args.host, args.port
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
