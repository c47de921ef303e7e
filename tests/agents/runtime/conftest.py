"""Helpers for runtime tests: run a coroutine on a loop of its own in a worker thread (the session's
Playwright keeps a loop marked running on the main thread), and a request for a small agent."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from meshclaw.agents.runtime.contract import RunRequest
from meshclaw.agents.spec import AgentSpec

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def agent(**fields: Any) -> AgentSpec:
    data: dict[str, Any] = {"name": "helper", "instructions": "Help.", "model": {"name": "stub-small"}}
    data.update(fields)
    return AgentSpec.model_validate(data)


def request(spec: AgentSpec | None = None, **fields: Any) -> RunRequest:
    values: dict[str, Any] = {
        "run_id": "run-1", "agent_id": 7, "agent_version_id": 1, "owner_user_id": 3,
        "spec": spec or agent(), "input": "Do the thing.", "mode": "unattended",
    }  # fmt: skip
    values.update(fields)
    return RunRequest(**values)
