"""Checkpointed model calls: when a run executes durably, each model request is one step of its workflow.

After a crash the runs engine replays the workflow from the top. Without a checkpoint the replay would ask
the model again: the tokens would be spent twice, and a real model may answer differently, calling other
tools than the checkpointed tool steps recorded, which the engine refuses as a diverging replay. So the
runs layer binds a step runner around a segment (`bind`), and the runtime wraps its model so each request
goes through it (`models.open_model`); a replayed request is answered from its checkpoint.

A context variable rather than a parameter, like the tools' idempotency key: the runner is the engine's
business, and the runtime's signature stays the same for executors that do not run durably.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from typing import Any, Protocol


class StepRunner(Protocol):
    async def __call__(self, name: str, func: Callable[[], Awaitable[Any]]) -> Any:
        """Run `func` as a checkpointed step called `name`, or answer from its checkpoint on replay."""
        ...


_RUNNER: ContextVar[StepRunner | None] = ContextVar("meshclaw_model_step_runner", default=None)


def bind(runner: StepRunner) -> Token[StepRunner | None]:
    return _RUNNER.set(runner)


def unbind(token: Token[StepRunner | None]) -> None:
    _RUNNER.reset(token)


def current() -> StepRunner | None:
    return _RUNNER.get()
