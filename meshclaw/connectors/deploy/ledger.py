"""The command adapter's record of what it ran, so a replayed call is not run twice.

A durable run repeats a tool call that was cut off (meshclaw/tools/idempotency.py); a deploy script has
no idempotency key of its own. So before running a command the adapter *claims* the call's key: under an
exclusive file lock it looks the key up in `ledger.jsonl` and, only when the key is new, appends a
`started` line (flushed and fsynced) and runs the command; afterwards it appends `finished` with the
result. A call whose key is already there is not run again: after `finished` it answers that result
(`already_done`); after only `started` (the earlier call was cut off mid-way, or is still running) it
answers `unknown` and says to check the status, because running a half-finished deploy again is exactly
the duplicate we must not cause. One file per account; the lock also serializes processes sharing it.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FILE = "ledger.jsonl"


@dataclass(frozen=True, kw_only=True, slots=True)
class Entry:
    key: str
    started: dict[str, Any]
    finished: dict[str, Any] | None


@dataclass(frozen=True, kw_only=True)
class Ledger:
    directory: Path

    async def claim(self, key: str, record: dict[str, Any]) -> Entry | None:
        """Record `key` as started and return None; or return the entry a call with it left."""
        return await asyncio.to_thread(self._claim, key, record)

    async def finish(self, key: str, result: dict[str, Any]) -> None:
        await asyncio.to_thread(self._append, {"key": key, "phase": "finished", "at": time.time(), **result})

    async def entries(self) -> list[Entry]:
        return await asyncio.to_thread(self._locked_entries)

    def _claim(self, key: str, record: dict[str, Any]) -> Entry | None:
        with self._lock():
            for entry in self._read():
                if entry.key == key:
                    return entry
            self._write_line({"key": key, "phase": "started", "at": time.time(), **record})
            return None

    def _append(self, line: dict[str, Any]) -> None:
        with self._lock():
            self._write_line(line)

    def _locked_entries(self) -> list[Entry]:
        with self._lock():
            return self._read()

    def _lock(self) -> _FileLock:
        self.directory.mkdir(parents=True, exist_ok=True)
        return _FileLock(self.directory / "ledger.lock")

    def _read(self) -> list[Entry]:
        path = self.directory / FILE
        if not path.exists():
            return []
        started: dict[str, dict[str, Any]] = {}
        finished: dict[str, dict[str, Any]] = {}
        for line in path.read_text().splitlines():
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a crash mid-write; its call counts as never claimed
            target = started if item.get("phase") == "started" else finished
            target.setdefault(item["key"], item)
        return [Entry(key=k, started=v, finished=finished.get(k)) for k, v in started.items()]

    def _write_line(self, line: dict[str, Any]) -> None:
        with open(self.directory / FILE, "a") as file:
            file.write(json.dumps(line, sort_keys=True) + "\n")
            file.flush()
            os.fsync(file.fileno())


class _FileLock:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd = -1

    def __enter__(self) -> None:
        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
