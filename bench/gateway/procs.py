"""What a process tree costs, read from /proc: CPU seconds (utime + stime) and resident memory.

A proxy's CPU per request is the CPU its whole process tree used during a load run divided by the
requests served: on a 2-core box shared with the load generator, that is a fairer figure than
throughput alone. RSS is sampled twice a second during a run and the peak kept."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants that are alive now."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                queue.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
    return found


def cpu_seconds(pid: int) -> float:
    """utime + stime of the tree rooted at `pid` (children that already exited are not counted)."""
    total = 0
    for member in tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
    return total / TICKS


def rss_mib(pid: int) -> tuple[float, float]:
    """(sum over the tree, largest single process) resident set size in MiB."""
    sizes = []
    for member in tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return (sum(sizes), max(sizes)) if sizes else (0.0, 0.0)


@dataclass
class RssPeak:
    """Samples the tree's RSS in a thread until stopped; `peak` is the largest sum seen."""

    pid: int
    peak: float = 0.0
    peak_single: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssPeak:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _sample(self) -> None:
        while True:
            total, single = rss_mib(self.pid)
            self.peak, self.peak_single = max(self.peak, total), max(self.peak_single, single)
            if self._stop.wait(0.5):
                return
