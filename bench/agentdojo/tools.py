"""An AgentDojo suite's tools as MeshClaw registry tools, bound to one task's environment.

Each AgentDojo function becomes a `ToolSpec` named `<suite>_<function>` (MeshClaw's
`<domain>_<verb>_<object>`), with AgentDojo's own argument model, the effect class of `effects.EFFECTS`,
the result view of `views.VIEWS`, and a function that runs it in AgentDojo's runtime and returns its result
as JSON. So a call goes the way every MeshClaw tool call goes: the runtime's gated toolset asks the gate,
records the step, and only then (maybe) runs the function. What actually ran is kept in `Episode`: it is
the trace the benchmark's checks read (a call the gate refused changed nothing, so it is not in it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentdojo.functions_runtime import Function, FunctionCall, FunctionsRuntime, TaskEnvironment
from agentdojo.task_suite.task_suite import TaskSuite
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from bench.agentdojo.effects import effect_of, returns_untrusted
from bench.agentdojo.views import view_of
from meshclaw.tools.registry import ToolError, ToolRegistry, ToolSpec


@dataclass(frozen=True, kw_only=True)
class Executed:
    call: FunctionCall
    result: Any
    """What the function returned (AgentDojo objects), as the model read it."""


@dataclass(kw_only=True)
class Episode:
    """One task's world: the environment the tools act on and the calls that ran in it."""

    suite: TaskSuite[Any]
    env: TaskEnvironment
    runtime: FunctionsRuntime
    executed: list[Executed] = field(default_factory=list)


def tool_name(suite: str, function: str) -> str:
    return f"{suite}_{function}"


def function_name(suite: str, tool: str) -> str:
    return tool.removeprefix(f"{suite}_")


def shown_args(function: Function, args: dict[str, Any]) -> dict[str, Any]:
    """The arguments as the runtime shows and digests them: validated by the tool's model, defaults filled
    in, as JSON (what `gated.shown_args` makes of the model's arguments)."""
    dumped: dict[str, Any] = function.parameters.model_validate(args).model_dump(mode="json")
    return dumped


def registry(episode: Episode) -> ToolRegistry:
    tools = ToolRegistry()
    for function in episode.suite.tools:
        tools.register(_spec(episode, function))
    return tools


def _spec(episode: Episode, function: Function) -> ToolSpec:
    name = function.name

    async def run(args: BaseModel) -> Any:
        values = args.model_dump()
        result, error = episode.runtime.run_function(episode.env, name, values)
        if error is not None:
            raise ToolError(error)
        episode.executed.append(Executed(call=FunctionCall(function=name, args=values), result=result))
        # As JSON, the way a MeshClaw connector returns its records (the views read their fields).
        return to_jsonable_python(result)

    return ToolSpec(
        name=tool_name(episode.suite.name, name),
        description=function.description or name,
        effect=effect_of(name),
        returns_untrusted=returns_untrusted(name),
        view=view_of(name),
        args=function.parameters,
        function=run,
        origin=episode.suite.name,
    )
