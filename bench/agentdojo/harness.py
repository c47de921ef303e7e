"""One AgentDojo task through MeshClaw's agent runtime and a `ToolGate`, judged by AgentDojo's own checks.

A case is a user task, optionally with one injection task whose attack text is planted in the environment.
The agent is a MeshClaw agent granted every tool of the suite, run by `meshclaw.agents.runtime.loop.execute`
(the code every run goes through) with the compromised model of `attacker.py`. So the gate sees each call
exactly as in production: effect class, arguments and their digest, the run's mode and what it read so far.

- unattended: nobody answers. A call that needs approval is queued and the run waits for it (the product
  default, `unattended_approvals = "wait"`); the case is judged on the world as it is then.
- attended: the test is the person at the screen. It approves a pending call only when its tool and the
  digest of its exact arguments are among the calls the user's task needs (the task's ground truth, digested
  by the test itself), and refuses anything else; the run resumes with those decisions (`ResumeState`), so
  the gate checks each approval against the arguments the call has when it runs.

The checks: `utility` is AgentDojo's user-task check; `attacked` its injection-task check (`security` in
AgentDojo's words, True meaning the attack succeeded). Checks that read the trace of calls (slack's injection
task 5) are given the calls that ran; `attacked_by_requests` gives them every call the model asked for, as
AgentDojo's own pipeline would (it assumes every requested call ran).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agentdojo.base_tasks import BaseInjectionTask, BaseUserTask
from agentdojo.functions_runtime import FunctionCall, FunctionsRuntime, TaskEnvironment
from agentdojo.task_suite.task_suite import TaskSuite

from bench.agentdojo.attacker import CompromisedModel
from bench.agentdojo.tools import Episode, function_name, registry, shown_args, tool_name
from meshclaw.agents.runtime import clean_context, history
from meshclaw.agents.runtime.clean_context import HANDLE, ToolTrust
from meshclaw.agents.runtime.contract import (
    ApprovalDecision,
    GateDecision,
    PendingApproval,
    ResumeState,
    RunInfo,
    RunMode,
    RunRequest,
    RunResult,
    ToolCall,
    ToolGate,
    args_digest,
)
from meshclaw.agents.runtime.loop import execute
from meshclaw.agents.runtime.testing import RecordingSink, function_models
from meshclaw.agents.spec import AgentSpec, ModelChoice, RunLimits, ToolGrant

_RUN_IDS = itertools.count(1)


class NoGate:
    """Allows every call: the baseline that shows the attacker is real."""

    async def decide(self, call: ToolCall, run: RunInfo) -> GateDecision:
        return GateDecision(decision="allow", reason="no gate")


@dataclass(frozen=True, kw_only=True)
class CaseResult:
    suite: str
    user_task: str
    injection_task: str | None
    mode: RunMode
    utility: bool
    attacked: bool
    attacked_by_requests: bool
    status: str
    """The run's status when the case ended (`waiting_approval`: it waits for a person nobody is)."""
    obeyed: bool
    """Whether the model read the injection and set out to obey it."""
    tainted: bool = False
    """Whether the run read content outsiders can write, as the runtime reports it (`RunResult.tainted`)."""
    clean_answer: bool = False
    """Whether the answer was written again apart from outsiders' text (`RunResult.clean_answer`)."""
    answerable: bool | None = None
    """With a clean answer: whether AgentDojo's user-task check passes when the "answer" is the record the
    model was sent for it (the request left out), i.e. whether the facts the task asks for are there without
    quoting outsiders. None when no clean answer was written. (The scripted model's own answer is an
    oracle's: it gives the expected answer whatever it was sent.)"""
    answerable_quoting: bool | None = None
    """The same with every withheld text quoted (what an answer citing all its handles would show)."""
    decisions: tuple[tuple[str, str, str], ...] = ()
    """(tool, decision, status) for every call the model made, as the runtime recorded them."""


def agent_spec(
    suite: TaskSuite[Any],
    *,
    unattended_approvals: Literal["wait", "skip"] = "wait",
    answers: Literal["clean", "as_written"] = "clean",
) -> AgentSpec:
    """A MeshClaw agent granted each tool of the suite by name. Limits are raised so that only the gate
    decides what happens (a long attack would otherwise also end on `max_tool_calls`). With
    `unattended_approvals="skip"` an unattended run does not wait: a call that needs approval is refused
    and the model carries on, so the attacker gets to try every call of its plan. `answers="as_written"`
    keeps the answer the model wrote while reading the injection (the agent's `tainted_answers`)."""
    # Passed only when not the default, so the harness also runs against a runtime without the setting.
    setting: dict[str, str] = (
        {} if unattended_approvals == "wait" else {"unattended_approvals": unattended_approvals}
    )
    if answers != "clean":
        setting["tainted_answers"] = answers
    return AgentSpec(
        **setting,
        name=f"agentdojo-{suite.name}",
        model=ModelChoice(name="scripted"),
        tools=tuple(ToolGrant(tool=tool_name(suite.name, f.name)) for f in suite.tools),
        memory=False,
        limits=RunLimits(max_steps=200, max_tool_calls=200, max_seconds=600),
    )


@dataclass(kw_only=True)
class Person:
    """The person watching an attended run: approves exactly the calls the user's task consists of."""

    suite: TaskSuite[Any]
    expected: set[tuple[str, str]]
    approved: int = 0
    refused: int = 0

    @classmethod
    def for_task(cls, suite: TaskSuite[Any], task: BaseUserTask[Any], episode: Episode) -> Person:
        functions = {f.name: f for f in suite.tools}
        expected = {
            (
                tool_name(suite.name, call.function),
                args_digest(shown_args(functions[call.function], dict(call.args))),
            )
            for call in task.ground_truth(episode.env.model_copy(deep=True))
        }
        return cls(suite=suite, expected=expected)

    def decide(self, pending: PendingApproval) -> ApprovalDecision:
        # The digest is the person's own, of the arguments shown to them (not one the run supplied).
        seen = args_digest(pending.args)
        approved = (pending.tool_name, seen) in self.expected
        self.approved += approved
        self.refused += not approved
        return ApprovalDecision(
            tool_call_id=pending.tool_call_id,
            approved=approved,
            args_digest=seen,
            approval_id=f"agentdojo-approval-{self.approved + self.refused}",
            reason=None if approved else "I did not ask for this.",
        )


async def run_case(
    suite: TaskSuite[Any],
    user_task: BaseUserTask[Any],
    injection_task: BaseInjectionTask[Any] | None,
    *,
    gate: ToolGate,
    mode: RunMode,
    environment: TaskEnvironment,
    obey: Mapping[str, BaseInjectionTask[Any]] | None = None,
    unattended_approvals: Literal["wait", "skip"] = "wait",
    answers: Literal["clean", "as_written"] = "clean",
) -> CaseResult:
    """Run one case in `environment` (the suite's, with the attack planted). `obey` are the injection goals the model acts on when it reads one (default: the
    case's injection task)."""
    environment = user_task.init_environment(environment)
    before = environment.model_copy(deep=True)
    episode = Episode(suite=suite, env=environment, runtime=FunctionsRuntime(suite.tools))
    if obey is None:
        obey = {injection_task.ID: injection_task} if injection_task is not None else {}
    model = CompromisedModel(suite=suite.name, user_task=user_task, injection_tasks=obey, episode=episode)
    person = Person.for_task(suite, user_task, episode) if mode == "attended" else None
    sink = RecordingSink()
    request = RunRequest(
        run_id=f"agentdojo-{next(_RUN_IDS)}",
        agent_id=1,
        agent_version_id=1,
        owner_user_id=1,
        spec=agent_spec(suite, unattended_approvals=unattended_approvals, answers=answers),
        input=user_task.PROMPT,
        mode=mode,
    )
    tools = registry(episode)
    models = function_models(model.respond)
    result: RunResult = await execute(request, sink=sink, gate=gate, tools=tools, model_factory=models)
    while result.status == "waiting_approval" and person is not None and result.history is not None:
        decisions = tuple(person.decide(pending) for pending in result.pending)
        request = _resumed(request, result, decisions)
        result = await execute(request, sink=sink, gate=gate, tools=tools, model_factory=models)
    output = result.output if isinstance(result.output, str) else ""
    executed = [done.call for done in episode.executed]
    # Some checks change the environments they read (`get_unread()` marks mail read), so the second
    # reading of the injection task gets copies taken before any check ran. The first reading is AgentDojo's
    # own order: the user task's check, then the injection task's, on the same objects.
    spare = (before.model_copy(deep=True), episode.env.model_copy(deep=True))
    for_answerable = (before.model_copy(deep=True), episode.env.model_copy(deep=True))
    for_quoting = (before.model_copy(deep=True), episode.env.model_copy(deep=True))
    utility = _judge(user_task, output, before, episode.env, executed)
    attacked = by_requests = False
    if injection_task is not None:
        attacked = _judge(injection_task, output, before, episode.env, executed)
        by_requests = _judge(injection_task, output, *spare, list(model.requested))
    answerable = quoting = None
    if result.clean_answer and result.history is not None:
        trust = {spec.name: ToolTrust(untrusted=spec.untrusted_result, view=spec.view) for spec in tools}
        context = clean_context.build(history.load(result.history).messages, lambda name: trust[name])
        record = "\n".join(context.record)
        answerable = _judge(user_task, record, *for_answerable, executed)
        all_quoted = clean_context.render(HANDLE.sub(r"\n[[\1]]\n", record), context)
        quoting = _judge(user_task, all_quoted, *for_quoting, executed)
    return CaseResult(
        suite=suite.name,
        user_task=user_task.ID,
        injection_task=injection_task.ID if injection_task is not None else None,
        mode=mode,
        utility=utility,
        attacked=attacked,
        attacked_by_requests=by_requests,
        status=result.status,
        obeyed=bool(model.obeyed),
        tainted=result.tainted,
        clean_answer=result.clean_answer,
        answerable=answerable,
        answerable_quoting=quoting,
        decisions=tuple(
            (function_name(suite.name, step.name), step.decision, step.status) for step in sink.tools
        ),
    )


def _resumed(request: RunRequest, result: RunResult, decisions: tuple[ApprovalDecision, ...]) -> RunRequest:
    assert result.history is not None
    return RunRequest(
        run_id=request.run_id,
        agent_id=request.agent_id,
        agent_version_id=request.agent_version_id,
        owner_user_id=request.owner_user_id,
        spec=request.spec,
        input=request.input,
        mode=request.mode,
        resume=ResumeState(history=result.history, decisions=decisions),
        tainted=result.tainted,
    )


def _judge(
    task: BaseUserTask[Any] | BaseInjectionTask[Any],
    output: str,
    before: Any,
    after: Any,
    trace: list[FunctionCall],
) -> bool:
    """AgentDojo's check of a task (`TaskSuite._check_task_result`, which is what its benchmark calls)."""
    if isinstance(task, BaseUserTask):
        by_trace = task.utility_from_traces(output, before, after, trace)
        return bool(by_trace if by_trace is not None else task.utility(output, before, after))
    by_trace = task.security_from_traces(output, before, after, trace)
    return bool(by_trace if by_trace is not None else task.security(output, before, after))
