"""What executes a run segment, injected into the engine: the agent runtime by default, or whatever the
`runs_executor` setting names (`module:factory`), which tests use for a scripted agent in a server
subprocess and a deployment may use for its own playbook engine.

The engine hands the executor a tool registry whose every tool runs as a durable step (see
`meshclaw.runs.workflow`), so an executor gets exactly-once tool effects without knowing about DBOS.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from meshclaw.agents.runtime.contract import RunRequest, RunResult, StepSink
from meshclaw.context import AppContext
from meshclaw.errors import InvalidInputError
from meshclaw.tools.registry import ToolRegistry

DEFAULT_EXECUTOR = "meshclaw.runs.agent_execution:build"


class RunExecutor(Protocol):
    async def __call__(
        self,
        request: RunRequest,
        *,
        sink: StepSink,
        tools: ToolRegistry,
        should_stop: Callable[[], bool],
    ) -> RunResult:
        """Run one segment (see `meshclaw.agents.runtime.contract`); never raises for what the agent did."""
        ...


@dataclass(frozen=True, kw_only=True)
class Execution:
    execute: RunExecutor
    tools: ToolRegistry
    """The tools runs may call; the engine wraps each in a durable step before handing them over."""


ExecutionFactory = Callable[[AppContext], Execution]


def load_execution(context: AppContext) -> Execution:
    """Build the execution the settings name (the agent runtime unless `runs_executor` is set)."""
    path = context.settings.runs_executor or DEFAULT_EXECUTOR
    module_name, _, attribute = path.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise InvalidInputError(
            f"runs_executor '{path}' cannot be loaded ({exc}); give 'package.module:factory'",
            field="runs_executor",
        ) from None
    execution = factory(context)
    if not isinstance(execution, Execution):
        raise InvalidInputError(f"runs_executor '{path}' did not return an Execution", field="runs_executor")
    return execution
