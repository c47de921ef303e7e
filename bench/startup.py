"""How long `meshclaw up` takes to answer `/healthz`, for one or more source trees side by side.

Each run starts the server from a tree (`PYTHONPATH=<tree>`, this checkout's virtualenv, a data
directory of its own that the first run migrated), polls `/healthz` every 0.1 s and stops it; the trees
take turns, so a change in the machine's load falls on all of them. Reports each tree's runs and median,
and each tree's median over the first tree's, for the wall time and for the server's CPU time (user and
system, from /proc) when it first answered: on a shared machine the wall time varies by seconds from run
to run, the CPU time much less.

    .venv/bin/python -m bench.startup [--runs 5] TREE [TREE ...]

A tree is a checkout of the repository (a `git worktree` of an older commit, say); the package under
test is the tree's `meshclaw/`, the installed dependencies are this checkout's.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

PYTHON = Path(sys.executable)
START = "from meshclaw.cli.main import app; app()"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def seconds_to_healthz(tree: Path, data_dir: Path, *, within_s: float = 120) -> tuple[float, float]:
    """Wall seconds from the start until /healthz answered, and the server's CPU seconds by then."""
    port = _free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MESHCLAW_")}
    environment |= {"PYTHONPATH": str(tree), "MESHCLAW_DATA_DIR": str(data_dir)}
    data_dir.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    # Run from the data directory: `python -c` puts the working directory first on sys.path, ahead of
    # PYTHONPATH, so started from a checkout it would import that checkout's meshclaw, whatever the tree.
    process = subprocess.Popen(
        [str(PYTHON), "-c", START, "up", "--port", str(port)],
        env=environment,
        cwd=data_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        with httpx.Client(timeout=1) as http:
            while time.perf_counter() - began < within_s:
                if process.poll() is not None:
                    raise SystemExit(f"meshclaw up from {tree} exited with {process.returncode}")
                try:
                    if http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        return time.perf_counter() - began, _cpu_seconds(process.pid)
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
        raise SystemExit(f"meshclaw up from {tree} did not answer within {within_s} s")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    trees: list[Path] = [tree.resolve() for tree in args.trees]
    wall: dict[Path, list[float]] = {tree: [] for tree in trees}
    cpu: dict[Path, list[float]] = {tree: [] for tree in trees}
    with tempfile.TemporaryDirectory(prefix="meshclaw-startup-") as root:
        data = {tree: Path(root) / f"tree{index}" for index, tree in enumerate(trees)}
        for tree in trees:  # the first start migrates its database; not counted
            seconds_to_healthz(tree, data[tree])
        for run in range(args.runs):
            for tree in trees:
                seconds, cpu_seconds = seconds_to_healthz(tree, data[tree])
                wall[tree].append(seconds)
                cpu[tree].append(cpu_seconds)
                load = os.getloadavg()[0]
                print(
                    f"run {run + 1}: {tree}: {seconds:.2f} s, CPU {cpu_seconds:.2f} s (load {load:.1f})",
                    flush=True,
                )
    for name, times in (("wall", wall), ("CPU", cpu)):
        first = statistics.median(times[trees[0]])
        for tree in trees:
            median = statistics.median(times[tree])
            runs = ", ".join(f"{value:.2f}" for value in times[tree])
            print(f"{name}: {tree}: median {median:.2f} s ({median / first:.2f}x), runs {runs}")


if __name__ == "__main__":
    main()
