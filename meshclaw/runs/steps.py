"""A durable run's agent steps: its model requests and tool calls, each checkpointed so that a replay
after a crash answers it from its checkpoint instead of doing it again.

`RecordedSteps` keeps the checkpoints in our `run_checkpoints` table (`meshclaw.runs.checkpoints`), inside
the DBOS workflow, which still recovers the run, queues it and waits durably. They were DBOS steps until
2026-12-02: DBOS 3.4 reads and writes each step's checkpoint through SQLAlchemy statements it builds
and compiles per call, ~10 ms CPU of the ~11.5 ms of platform time per agent step; here a step costs one
small insert, and the run's checkpoints are read once when its workflow starts or resumes. What a DBOS
step guaranteed holds:

- Step n of a run (numbered in the order the run takes them, which a replay repeats) is answered from its
  checkpoint when one is recorded: a completed tool effect is not executed again, and a model response is
  not asked for again, so a model that would answer differently cannot make the replay diverge. A step
  with no checkpoint (a tool call cut off mid-way) runs again, with the same idempotency key.
- The checkpoint is committed before the step returns, so nothing that follows can depend on a step that
  replay would not answer the same way.
- A replay that takes a different step than was recorded at that number raises `DivergedReplay` (DBOS
  raised its unexpected-step error), rather than answering one tool's call with another's result.
- An error is recorded and raised again on replay; no retries (the runtime decides what a failure means).
- A run whose record ended (cancelled or stopped by a kill switch, maybe by another process) is seen at
  its next checkpoint (`ended`), the way DBOS's step check saw its workflow cancelled.

`DbosSteps` is the previous way, kept for runs begun before it changed: their earlier steps are DBOS's
checkpoints, so they resume with them.
"""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from dbos import DBOS

from meshclaw.agents.runtime.checkpoint import StepRunner
from meshclaw.errors import MeshclawError
from meshclaw.runs.checkpoints import Checkpoint, CheckpointStore
from meshclaw.tools import caller as callers
from meshclaw.tools import idempotency
from meshclaw.tools.caller import Caller
from meshclaw.tools.registry import ToolFunction, ToolRegistry, ToolSpec


class DivergedReplay(MeshclawError):
    """A replayed run took another step than the one recorded at that number."""


class RecordedStepError(MeshclawError):
    """A step's error as replay raises it when the original exception could not be kept as it was: one
    that cannot be pickled (it holds a lock, a socket, a client) or not unpickled (its `__init__` wants
    other arguments than `args`). It names the original's type and says what it said."""


def _pickled_error(error: Exception) -> bytes:
    """The error, pickled so that unpickling gives it back; otherwise a `RecordedStepError` in its place.

    A step's error is recorded so that a replay raises it again. Before this, an error that would not
    pickle made the step fail with pickle's TypeError instead of its own (the run's error said "cannot
    pickle '_thread.lock' object"), and one that would not unpickle made every replay of the run fail.
    """
    try:
        data = pickle.dumps(error)
        pickle.loads(data)  # noqa: S301 - just made here
    except Exception:  # any failure of either direction; the substitute always round-trips
        kind = type(error)
        return pickle.dumps(RecordedStepError(f"{kind.__module__}.{kind.__qualname__}: {error}"))
    return data


def _pickled_value(name: str, value: Any) -> bytes:
    """The step's result, pickled; a result replay could not answer with is the step's author's bug, named
    as such rather than as pickle's bare TypeError."""
    try:
        return pickle.dumps(value)
    except Exception as error:
        raise MeshclawError(
            f"step '{name}' returned a {type(value).__qualname__} that cannot be checkpointed for replay "
            f"({error}); steps must return plain data"
        ) from error


class RecordedSteps:
    """The step runner of one execution of a run's workflow, answering from the run's checkpoints as
    read when the execution began."""

    def __init__(self, store: CheckpointStore, run_id: str, recorded: dict[int, Checkpoint]) -> None:
        self._store = store
        self._run_id = run_id
        self._recorded = recorded
        self._seq = 0
        self.ended = False
        """The run's record has ended: the executor should stop before its next step."""

    @classmethod
    async def load(cls, store: CheckpointStore, run_id: str) -> RecordedSteps:
        return cls(store, run_id, await asyncio.to_thread(store.load, run_id))

    async def __call__(self, name: str, func: Callable[[], Awaitable[Any]]) -> Any:
        self._seq += 1  # before any await: the numbers follow the order the run asks for its steps
        seq = self._seq
        recorded = self._recorded.pop(seq, None)
        if recorded is None:
            error: Exception | None = None
            try:
                value = await func()
            except Exception as exc:
                error, value = exc, None
            mine = Checkpoint(
                name=name,
                failed=error is not None,
                result=_pickled_error(error) if error is not None else _pickled_value(name, value),
            )
            recorded = await self._record(seq, mine)
            if recorded is mine:  # ours is the checkpoint: answer as the step did, not from the pickle
                if error is not None:
                    raise error
                return value
        if recorded.name != name:
            raise DivergedReplay(
                f"run {self._run_id}: step {seq} is '{name}' now but '{recorded.name}' was recorded; "
                "the run cannot resume from its checkpoints"
            )
        result = pickle.loads(recorded.result)  # noqa: S301 - our own table, as DBOS unpickles its steps
        if recorded.failed:
            raise result
        return result

    async def _record(self, seq: int, checkpoint: Checkpoint) -> Checkpoint:
        stored, ended = await asyncio.to_thread(self._store.record, self._run_id, seq, checkpoint)
        self.ended = self.ended or ended
        return stored


class DbosSteps:
    """Each step a DBOS step (for runs begun before `RecordedSteps`): DBOS answers it on replay."""

    ended = False

    async def __call__(self, name: str, func: Callable[[], Awaitable[Any]]) -> Any:
        # No retries: a tool's or the model's failure goes back to the runtime, which decides what it means.
        return await DBOS.run_step_async({"name": name, "retries_allowed": False}, func)


@dataclass(kw_only=True)
class _Counter:
    value: int = 0


def durable_tools(
    registry: ToolRegistry, run_id: str, steps: StepRunner, caller: Caller | None = None
) -> ToolRegistry:
    """The registry with every tool call a step of `steps`. The n-th tool call of the run is published
    to the tool as its idempotency key `<run id>:<n>` (replay repeats the order): only a call cut off
    mid-way runs again, and with the same key. `caller` is published to the tools too (a connector's
    tool asks for an account the run's owner may use)."""
    counter = _Counter()
    wrapped = ToolRegistry()
    for tool in registry:
        wrapped.register(replace(tool, function=_durable(tool, run_id, steps, counter, caller)))
    return wrapped


def _durable(
    tool: ToolSpec, run_id: str, steps: StepRunner, counter: _Counter, caller: Caller | None
) -> ToolFunction:
    async def call(args: Any) -> Any:
        counter.value += 1
        key = f"{run_id}:{counter.value}"

        async def effect() -> Any:
            token = idempotency.bind(key)
            caller_token = callers.bind(caller) if caller is not None else None
            try:
                return await tool.function(args)
            finally:
                if caller_token is not None:
                    callers.unbind(caller_token)
                idempotency.unbind(token)

        return await steps(tool.name, effect)

    return call
