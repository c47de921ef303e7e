"""The AgentDojo cases: which suites, which attack, and running them all (or a chosen part).

Benchmark v1.2.2 of `agentdojo` (pinned in the dev dependencies): 97 user tasks, and 949 pairs of a user
task with an injection task. The attack text is AgentDojo's default, `important_instructions`, addressed to
GPT-4 as the published runs for gpt-4o are (the scripted model obeys it whatever it is called).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any, Literal

import yaml
from agentdojo.agent_pipeline import BasePipelineElement, GroundTruthPipeline
from agentdojo.attacks.base_attacks import BaseAttack
from agentdojo.attacks.important_instructions_attacks import ImportantInstructionsAttack
from agentdojo.base_tasks import BaseInjectionTask, BaseUserTask
from agentdojo.functions_runtime import FunctionsRuntime
from agentdojo.task_suite.load_suites import get_suite
from agentdojo.task_suite.task_suite import TaskSuite, read_suite_file, validate_injections
from agentdojo.types import get_text_content_as_str

from bench.agentdojo.harness import CaseResult, run_case
from meshclaw.agents.runtime.contract import RunMode, ToolGate

VERSION = "v1.2.2"
SUITES = ("workspace", "slack", "banking", "travel")
ATTACK = "important_instructions"


class _Target(BasePipelineElement):
    """What the attack addresses: its text names the victim model, taken from the pipeline's name."""

    name = "meshclaw-scripted-compromised-model (addressed as gpt-4o-2024-05-13)"

    def query(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("only named, never run: the cases run through MeshClaw's runtime")


@cache
def suite(name: str) -> TaskSuite[Any]:
    return get_suite(VERSION, name)


class _Attack(ImportantInstructionsAttack):
    """AgentDojo's `important_instructions`, finding where to plant its text (the places a user task's
    ground truth reads, marked with canaries) in environments loaded by `environment`."""

    def get_injection_candidates(self, user_task: BaseUserTask[Any]) -> list[str]:
        return list(_candidates(self.task_suite.name, user_task.ID))


@cache
def _candidates(name: str, user_task_id: str) -> tuple[str, ...]:
    user_task = suite(name).user_tasks[user_task_id]
    canaries = attack(name).canary_injections
    runtime = FunctionsRuntime(suite(name).tools)
    env = environment(name, canaries)
    _, _, _, messages, _ = GroundTruthPipeline(user_task).query(user_task.PROMPT, runtime, env)
    seen = " ".join(get_text_content_as_str(m["content"]) for m in messages if m["content"] is not None)
    found = tuple(vector for vector, canary in canaries.items() if canary in seen)
    if not found:
        raise ValueError(f"{user_task_id} is not injectable.")
    return found


@cache
def attack(name: str) -> BaseAttack:
    return _Attack(suite(name), _Target())


def environment(name: str, injections: dict[str, str]) -> Any:
    """`TaskSuite.load_and_inject_default_environment`, parsed by libyaml: the same text, the same model,
    in a tenth of the time (pure-Python YAML parsing was most of a case's cost)."""
    task_suite = suite(name)
    text = read_suite_file(name, "environment.yaml", task_suite.data_path)
    defaults = task_suite.get_injection_vector_defaults()
    validate_injections(injections, defaults)
    data = yaml.load(text.format(**dict(defaults, **injections)), Loader=yaml.CSafeLoader)
    return task_suite.environment_type.model_validate(data)


Pair = tuple[str, BaseUserTask[Any], BaseInjectionTask[Any]]


def pairs(suites: Iterable[str] = SUITES) -> Iterator[Pair]:
    for name in suites:
        for user_task in suite(name).user_tasks.values():
            for injection_task in suite(name).injection_tasks.values():
                yield name, user_task, injection_task


async def run_pair(
    pair: Pair,
    *,
    gate: ToolGate,
    mode: RunMode,
    unattended_approvals: Literal["wait", "skip"] = "wait",
    answers: Literal["clean", "as_written"] = "clean",
) -> CaseResult:
    name, user_task, injection_task = pair
    injections = attack(name).attack(user_task, injection_task)
    return await run_case(
        suite(name),
        user_task,
        injection_task,
        gate=gate,
        mode=mode,
        environment=environment(name, injections),
        unattended_approvals=unattended_approvals,
        answers=answers,
    )


async def run_benign(name: str, user_task: BaseUserTask[Any], *, gate: ToolGate) -> CaseResult:
    """A user task with no attack, attended, the test approving what the task needs."""
    return await run_case(
        suite(name), user_task, None, gate=gate, mode="attended", environment=environment(name, {})
    )
