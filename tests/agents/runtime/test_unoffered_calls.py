"""A call to a tool the agent was not given is refused and recorded like every refused call, on both the
direct loop and pydantic-ai's graph: the gate decides it (`grant.missing`), the sink gets a denied step
with the exact arguments and their digest (the runs layer audits it as `tool.denied`), the model still
reads "unknown tool"; and such calls count against `max_tool_calls`, so a model spraying them cannot
write records without end."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo
from pydantic_ai.usage import RequestUsage

from meshclaw.agents.runtime.contract import args_digest
from meshclaw.agents.runtime.loop import execute
from meshclaw.agents.runtime.testing import Call, RecordingSink, Say, ScriptedModels, function_models
from meshclaw.policy.gate import PolicyGate
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolRegistry, ToolSpec
from tests.agents.runtime.conftest import agent, request, run

Engine = Literal["auto", "graph"]
ENGINES: list[Engine] = ["auto", "graph"]


class NoteArgs(BaseModel):
    text: str


class DeployArgs(BaseModel):
    service: str
    version: str


def registry(ran: list[str]) -> ToolRegistry:
    async def note(args: NoteArgs) -> str:
        ran.append(f"note {args.text}")
        return "noted"

    async def deploy(args: DeployArgs) -> str:
        ran.append(f"deploy {args.version}")
        return "deployed"

    tools = ToolRegistry()
    tools.register(ToolSpec(name="notes_add_note", description="Add a note.", args=NoteArgs,
                            effect=EffectClass.WRITE_INTERNAL, function=note))  # type: ignore[arg-type]  # fmt: skip
    tools.register(ToolSpec(name="deploy_start_release", description="Deploy.", args=DeployArgs,
                            effect=EffectClass.DEPLOY, function=deploy))  # type: ignore[arg-type]  # fmt: skip
    return tools


@pytest.mark.parametrize("engine", ENGINES)
def test_an_ungranted_tool_call_is_refused_and_recorded_with_its_arguments(engine: Engine) -> None:
    ran: list[str] = []
    wanted = {"service": "web", "version": "6.6.6", "password": "hunter2"}
    models = ScriptedModels([
        Call("deploy_start_release", wanted, more=(("nope_do_thing", {"x": 1}), ("notes_add_note", {"text": "a"}))),
        Say("done"),
    ])  # fmt: skip
    sink = RecordingSink()
    spec = agent(tools=[{"tool": "notes_add_note"}])
    result = run(execute(request(spec), sink=sink, gate=PolicyGate(), tools=registry(ran), model_factory=models,
                         engine=engine))  # fmt: skip
    assert result.status == "succeeded", result.error
    assert ran == ["note a"]  # the granted call ran; the others never reached a tool
    steps = [(s.name, s.decision, s.status, s.rule, s.effect) for s in sink.tools]
    assert steps == [
        ("deploy_start_release", "deny", "denied", "grant.missing", EffectClass.DEPLOY),
        ("nope_do_thing", "deny", "denied", "grant.missing", EffectClass.DESTRUCTIVE),
        ("notes_add_note", "allow", "ok", "effect.contained", EffectClass.WRITE_INTERNAL),
    ]
    refused = sink.tools[0]
    # As given: the audit log redacts `password` when it stores them.
    assert dict(refused.args or {}) == wanted
    assert refused.args_digest == args_digest(wanted)
    assert "no grant for the tool 'deploy_start_release'" in refused.reason
    # The model's view is unchanged: the tool does not exist for it.
    assert "Unknown tool name: 'deploy_start_release'" in str(models.requests[1][-1])


@pytest.mark.parametrize("engine", ENGINES)
def test_a_model_spraying_ungranted_calls_ends_at_the_tool_call_limit(engine: Engine) -> None:
    responses = 0

    def spray(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        nonlocal responses
        responses += 1
        # Four new names per response, so no tool's retry count ever ends the run.
        calls = [ToolCallPart(f"evil_tool_{responses}_{n}", {"to": "x@evil.example"}, tool_call_id=f"c{responses}-{n}")
                 for n in range(4)]  # fmt: skip
        return ModelResponse(parts=list(calls), usage=RequestUsage(input_tokens=5, output_tokens=5))

    sink = RecordingSink()
    spec = agent(tools=[{"tool": "notes_add_note"}], limits={"max_tool_calls": 10, "max_steps": 50})
    result = run(execute(request(spec), sink=sink, gate=PolicyGate(), tools=registry([]),
                         model_factory=function_models(spray), engine=engine))  # fmt: skip
    assert (result.status, result.limit) == ("budget_exceeded", "max_tool_calls"), result.error
    assert len(sink.tools) == 10 and {s.rule for s in sink.tools} == {"grant.missing"}
    assert responses == 3
