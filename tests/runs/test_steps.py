"""A run's checkpointed steps (`meshclaw.runs.steps.RecordedSteps` over `run_checkpoints`), on both
backends: a replay answers what was recorded and runs only the rest, raises a recorded error again, refuses
to answer one step with another's result, takes the first execution's record of a step, and sees the run's
record end at its next checkpoint. The whole path (a workflow replayed after kill -9) is test_crash's."""

from __future__ import annotations

import contextlib
import pickle
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from meshclaw.context import AppContext
from meshclaw.db.models import Run
from meshclaw.errors import MeshclawError
from meshclaw.runs import store
from meshclaw.runs.checkpoints import CheckpointStore
from meshclaw.runs.steps import DivergedReplay, RecordedStepError, RecordedSteps
from meshclaw.runs.workflow import _Begun
from tests.agents.runtime.conftest import run
from tests.postgres import BOTH_BACKENDS

RUN_ID = "run-steps-1"


@pytest.fixture
def checkpoints(context: AppContext, org_id: int) -> CheckpointStore:
    now = context.clock.now()
    with context.db.session() as session:
        session.add(
            Run(id=RUN_ID, org_id=org_id, agent_id=1, agent_version_id=1, owner_user_id=1, team_id=None,
                started_by_user_id=None, trigger_kind="manual", trigger_detail={}, mode="unattended",
                status="running", input={}, created_at=now)
        )  # fmt: skip
    return CheckpointStore(context.db)


class Calls:
    """Step functions that count how often they ran."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def returning(self, value: Any) -> Callable[[], Awaitable[Any]]:
        async def step() -> Any:
            self.ran.append(f"return {value}")
            return value

        return step

    def raising(self, message: str) -> Callable[[], Awaitable[Any]]:
        async def step() -> Any:
            self.ran.append(f"raise {message}")
            raise ValueError(message)

        return step


async def _execution(store_: CheckpointStore, calls: Calls) -> list[Any]:
    """One execution of a run: a model request, a tool call that fails, a tool call that succeeds."""
    steps = await RecordedSteps.load(store_, RUN_ID)
    answers: list[Any] = [await steps("model.request", calls.returning({"text": "call the tool"}))]
    try:
        await steps("kv_get_value", calls.raising("no such key"))
    except ValueError as error:
        answers.append(f"error: {error}")
    answers.append(await steps("kv_get_value", calls.returning("v1")))
    return answers


@BOTH_BACKENDS
def test_a_replay_answers_the_recorded_steps_and_runs_the_rest(checkpoints: CheckpointStore) -> None:
    first, replay = Calls(), Calls()
    answers = run(_execution(checkpoints, first))
    assert answers == [{"text": "call the tool"}, "error: no such key", "v1"]
    assert len(first.ran) == 3
    assert run(_execution(checkpoints, replay)) == answers
    assert replay.ran == []  # every step, the failed one too, answered from its checkpoint

    async def longer() -> Any:
        steps = await RecordedSteps.load(checkpoints, RUN_ID)
        for name in ("model.request", "kv_get_value", "kv_get_value"):
            with contextlib.suppress(ValueError):  # step 2's recorded error
                await steps(name, replay.returning("recorded earlier"))
        return await steps("model.request", replay.returning("asked now"))

    assert run(longer()) == "asked now"
    assert replay.ran == ["return asked now"]
    assert sorted(checkpoints.load(RUN_ID)) == [1, 2, 3, 4]


@BOTH_BACKENDS
def test_a_replay_that_takes_another_step_than_recorded_stops(checkpoints: CheckpointStore) -> None:
    calls = Calls()
    run(_execution(checkpoints, calls))

    async def diverging() -> Any:
        steps = await RecordedSteps.load(checkpoints, RUN_ID)
        await steps("model.request", calls.returning("recorded"))
        return await steps("email_send_message", calls.returning("sent"))

    with pytest.raises(DivergedReplay, match="step 2 is 'email_send_message' now but 'kv_get_value'"):
        run(diverging())
    assert len(calls.ran) == 3  # the diverging call did not run


@BOTH_BACKENDS
def test_the_first_execution_to_record_a_step_wins(checkpoints: CheckpointStore) -> None:
    calls = Calls()

    async def two_executions() -> tuple[Any, Any]:
        # Both began before either recorded step 1 (a run executed twice at once).
        first = await RecordedSteps.load(checkpoints, RUN_ID)
        second = await RecordedSteps.load(checkpoints, RUN_ID)
        return await first("kv_get_value", calls.returning("a")), await second(
            "kv_get_value", calls.returning("b")
        )

    assert run(two_executions()) == ("a", "a")
    assert calls.ran == ["return a", "return b"]
    assert pickle.loads(checkpoints.load(RUN_ID)[1].result) == "a"  # noqa: S301


@BOTH_BACKENDS
def test_a_run_whose_record_ended_is_seen_at_its_next_checkpoint(
    checkpoints: CheckpointStore, context: AppContext
) -> None:
    calls = Calls()

    async def steps_around_a_cancel() -> list[bool]:
        steps = await RecordedSteps.load(checkpoints, RUN_ID)
        seen = [steps.ended]
        await steps("model.request", calls.returning("r1"))
        seen.append(steps.ended)
        with context.db.session() as session:  # another process cancels the run
            store.finish_run(
                session, RUN_ID, "cancelled", output=None, error="cancelled", now=context.clock.now()
            )
        seen.append(steps.ended)
        await steps("kv_get_value", calls.returning("v1"))
        seen.append(steps.ended)
        return seen

    assert run(steps_around_a_cancel()) == [False, False, False, True]


class _HoldsALock(Exception):
    """Cannot be pickled: a client error that keeps its connection's lock, say."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


class _TwoArguments(Exception):
    """Pickles, but does not unpickle: pickle calls `__init__` with `args`, one string here."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")


@pytest.mark.parametrize(
    ("error", "recorded"),
    [
        (_HoldsALock("mailbox busy"), "tests.runs.test_steps._HoldsALock: mailbox busy"),
        (_TwoArguments(503, "try later"), "tests.runs.test_steps._TwoArguments: HTTP 503: try later"),
    ],
)
def test_an_error_that_cannot_be_kept_as_it_is_is_raised_and_replayed_as_its_record(
    checkpoints: CheckpointStore, error: Exception, recorded: str
) -> None:
    async def failing() -> Any:
        raise error

    async def execution() -> Any:
        steps = await RecordedSteps.load(checkpoints, RUN_ID)
        return await steps("kv_get_value", failing)

    with pytest.raises(type(error)) as first:  # the first execution raises the tool's own error
        run(execution())
    assert first.value is error
    with pytest.raises(RecordedStepError) as replayed:  # a replay, what was recorded of it
        run(execution())
    assert str(replayed.value) == recorded


def test_a_result_that_cannot_be_checkpointed_names_the_step(checkpoints: CheckpointStore) -> None:
    async def execution() -> Any:
        steps = await RecordedSteps.load(checkpoints, RUN_ID)
        return await steps("kv_get_value", Calls().returning(threading.Lock()))

    with pytest.raises(
        MeshclawError, match="step 'kv_get_value' returned a lock that cannot be checkpointed"
    ):
        run(execution())
    assert checkpoints.load(RUN_ID) == {}  # nothing half-recorded


def test_a_run_begun_before_recorded_steps_resumes_on_dbos_steps() -> None:
    """`begin`'s checkpoint of a run begun by an earlier release has no `recorded_steps`: unpickled, it
    says False, so the run replays its model requests and tool calls from the DBOS steps they are in."""
    begun = _Begun(agent_id=1, agent_version_id=1, owner_user_id=1, team_id=None, spec={}, input="", mode="x")
    earlier = object.__new__(_Begun)
    earlier.__dict__.update({key: value for key, value in begun.__dict__.items() if key != "recorded_steps"})
    assert pickle.loads(pickle.dumps(earlier)).recorded_steps is False  # noqa: S301
