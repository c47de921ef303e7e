"""The direct loop (`runtime.direct`) and pydantic-ai's agent graph run the same scripts to the same end:
the same result (status, answer, error, limit, usage, pending approvals, taint), the same steps recorded,
the same messages and tool definitions sent to the model; and a segment the direct loop stopped for
approval resumes on the graph from its history."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import pytest
from pydantic import BaseModel
from pydantic_ai.exceptions import ModelRetry
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo
from pydantic_ai.usage import RequestUsage

from meshclaw.agents.runtime import direct
from meshclaw.agents.runtime.contract import (
    ApprovalDecision,
    GateDecision,
    ResumeState,
    RunInfo,
    RunRequest,
    RunResult,
    ToolCall,
)
from meshclaw.agents.runtime.default_gate import DefaultGate
from meshclaw.agents.runtime.loop import execute
from meshclaw.agents.runtime.testing import Call, RecordingSink, Say, ScriptedModels, Turn
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolError, ToolRegistry, ToolSpec
from tests.agents.runtime.conftest import agent, request, run

Engine = Literal["auto", "graph"]


class NoteArgs(BaseModel):
    text: str


class DeployArgs(BaseModel):
    service: str
    version: str


async def note(args: NoteArgs) -> str:
    if args.text == "boom":
        raise ToolError("the notes service said no")
    if args.text == "again":
        raise ModelRetry("say it differently")
    return f"noted: {args.text}"


async def deploy(args: DeployArgs) -> str:
    return f"deployed {args.service}@{args.version}"


async def inbox(args: NoteArgs) -> str:
    return "an email a stranger wrote"


def registry() -> ToolRegistry:
    tools = ToolRegistry()
    tools.register(ToolSpec(name="notes_add_note", description="Add a note.", effect=EffectClass.WRITE_INTERNAL,
                            args=NoteArgs, function=note))  # fmt: skip
    tools.register(ToolSpec(name="deploy_start_release", description="Deploy a release.", effect=EffectClass.DEPLOY,
                            args=DeployArgs, function=deploy))  # fmt: skip
    tools.register(ToolSpec(name="email_read_inbox", description="Read the inbox.",
                            effect=EffectClass.READ_UNTRUSTED, args=NoteArgs, function=inbox))  # fmt: skip
    return tools


GRANTS = [{"tool": "notes_add_note"}, {"tool": "deploy_*"}, {"tool": "email_read_inbox"}]
DEPLOY = {"service": "web", "version": "1.2.3"}


class Refuse:
    async def decide(self, call: ToolCall, run: RunInfo) -> GateDecision:
        return GateDecision(decision="deny", reason="frozen for the holidays")


@dataclass
class Seen(ScriptedModels):
    """A scripted model that also keeps what the agent told it about tools and instructions."""

    infos: list[dict[str, Any]] = field(default_factory=list)

    def _respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        self.infos.append({"tools": [asdict(tool) for tool in info.function_tools], "text": info.allow_text_output,
                           "output_tools": info.output_tools, "instructions": info.instructions})  # fmt: skip
        return super()._respond(messages, info)


SCENARIOS: dict[str, tuple[list[Turn], dict[str, Any]]] = {
    "tool then answer": ([Call("notes_add_note", {"text": "hi"}), Say("Done.")], {}),
    "tool error": ([Call("notes_add_note", {"text": "boom"}), Say("It failed.")], {}),
    "tool asks for a retry": ([Call("notes_add_note", {"text": "again"}), Say("ok")], {}),
    "a tool that keeps asking for retries": ([Call("notes_add_note", {"text": "again"})], {}),
    "denied": ([Call("deploy_start_release", DEPLOY), Say("Could not.")], {"gate": Refuse()}),
    "waits for approval": ([Call("deploy_start_release", DEPLOY, tool_call_id="c1"), Say("Deployed.")], {}),
    "three calls at once, one waits": (
        [
            Call(
                "notes_add_note",
                {"text": "a"},
                more=(("deploy_start_release", DEPLOY), ("nope_do_thing", {})),
            ),
            Say("x"),
        ],
        {},
    ),
    "two calls at once": (
        [Call("notes_add_note", {"text": "a"}, more=(("notes_add_note", {"text": "b"}),)), Say("ok")],
        {},
    ),
    "schema retry then success": (
        [Call("notes_add_note", {"txt": "x"}), Call("notes_add_note", {"text": "x"}), Say("ok")],
        {},
    ),
    "schema failures use up the retries": ([Call("deploy_start_release", {"service": 3})], {}),
    "a success resets the retries": (
        [
            Call("notes_add_note", {"txt": "x"}),
            Call("notes_add_note", {"txt": "x"}),
            Call("notes_add_note", {"text": "x"}),
            Call("notes_add_note", {"txt": "x"}),
            Call("notes_add_note", {"txt": "x"}),
            Say("ok"),
        ],
        {},
    ),
    "unknown tool": ([Call("nope_do_thing", {}), Say("ok")], {}),
    "unknown tool forever": ([Call("nope_do_thing", {})], {}),
    "empty answer then text": ([Say(""), Say("ok")], {}),
    "empty answers forever": ([Say("")], {}),
    "taint": ([Call("email_read_inbox", {"text": "x"}), Say("read")], {}),
    "max steps": ([Call("notes_add_note", {"text": "x"})], {"limits": {"max_steps": 3}}),
    "max tool calls": (
        [Call("notes_add_note", {"text": "x"}, more=(("notes_add_note", {"text": "y"}),))],
        {"limits": {"max_tool_calls": 3}},
    ),
    "max tokens": ([Call("notes_add_note", {"text": "x"})], {"limits": {"max_tokens": 40}}),
    "max cost": ([Call("notes_add_note", {"text": "x"})], {"limits": {"max_cost_usd": 0.2}, "usd": 0.01}),
    "kill switch": ([Call("notes_add_note", {"text": "x"}), Say("ok")], {"stop": True}),
}


def _go(
    engine: Engine, script: list[Turn], options: dict[str, Any], **fields: Any
) -> tuple[RunResult, RecordingSink, Seen]:
    models = Seen(script, usd_per_token=options.get("usd"))
    spec = agent(tools=GRANTS, limits=options.get("limits", {}))
    sink = RecordingSink()
    stop = (lambda: True) if options.get("stop") else None
    result = run(execute(request(spec, **fields), sink=sink, gate=options.get("gate", DefaultGate()),
                         tools=registry(), model_factory=models, should_stop=stop, engine=engine))  # fmt: skip
    return result, sink, models


def _messages(messages: list[ModelMessage]) -> list[Any]:
    """What the model read, without what differs from run to run (times, run ids)."""
    dumped: list[Any] = ModelMessagesTypeAdapter.dump_python(messages, mode="json")
    for message in dumped:
        for key in ("timestamp", "run_id", "conversation_id", "model_id"):
            message.pop(key, None)
        for part in message["parts"]:
            part.pop("timestamp", None)
    return dumped


def _same(
    direct_run: tuple[RunResult, RecordingSink, Seen], graph_run: tuple[RunResult, RecordingSink, Seen]
) -> None:
    (d, d_sink, d_models), (g, g_sink, g_models) = direct_run, graph_run
    assert (d.status, d.output, d.error, d.limit, d.usage, d.tainted) == (
        g.status, g.output, g.error, g.limit, g.usage, g.tainted
    )  # fmt: skip
    assert d.pending == g.pending
    assert [replace(step, latency_ms=0) for step in d_sink.models] == [
        replace(step, latency_ms=0) for step in g_sink.models
    ]
    assert [replace(step, latency_ms=0) for step in d_sink.tools] == [
        replace(step, latency_ms=0) for step in g_sink.tools
    ]
    assert [_messages(sent) for sent in d_models.requests] == [_messages(sent) for sent in g_models.requests]
    assert d_models.infos == g_models.infos


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_direct_loop_ends_like_the_graph(name: str) -> None:
    script, options = SCENARIOS[name]
    direct_run = _go("auto", script, options)
    graph_run = _go("graph", script, options)
    _same(direct_run, graph_run)


def test_a_simple_segment_takes_the_direct_loop_and_others_the_graph() -> None:
    simple = request(agent())
    assert direct.eligible(simple)
    assert not direct.eligible(request(agent(), output_schema={"type": "object"}))
    assert not direct.eligible(request(agent(), resume=ResumeState(history=b"", decisions=())))
    assert not direct.eligible(
        request(agent(mcp_servers=[{"name": "chat", "url": "http://127.0.0.1:9/mcp"}]))
    )


def test_a_segment_the_direct_loop_stopped_resumes_on_the_graph() -> None:
    script, options = SCENARIOS["three calls at once, one waits"]
    outcomes = []
    for engine in ("auto", "graph"):
        first, _, _ = _go(engine, script, options)
        assert first.status == "waiting_approval" and first.history is not None
        [pending] = first.pending
        yes = ApprovalDecision(
            tool_call_id=pending.tool_call_id, approved=True, args_digest=pending.args_digest
        )
        resume = ResumeState(history=first.history, decisions=(yes,))
        second, sink, _ = _go("auto", script[1:], options, resume=resume, spent=first.usage)
        outcomes.append((second.status, second.output, [(s.name, s.status) for s in sink.tools]))
    assert outcomes[0] == outcomes[1] == ("succeeded", "x", [("deploy_start_release", "ok")])


def test_arguments_given_as_json_text_are_validated_alike() -> None:
    def respond(turn: int) -> ModelResponse:
        usage = RequestUsage(input_tokens=10, output_tokens=5)
        if turn == 0:
            return ModelResponse(
                parts=[ToolCallPart("notes_add_note", '{"text": "hi"', tool_call_id="a")], usage=usage
            )
        if turn == 1:
            return ModelResponse(
                parts=[ToolCallPart("notes_add_note", '{"text": "hi"}', tool_call_id="b")], usage=usage
            )
        return ModelResponse(parts=[TextPart("ok")], usage=usage)

    @dataclass
    class Raw(Seen):
        def _respond(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            self.requests.append(list(messages))
            self.infos.append({})
            return respond(len(self.requests) - 1)

    results = []
    for engine in ("auto", "graph"):
        models = Raw([Say("unused")])
        sink = RecordingSink()
        req: RunRequest = request(agent(tools=GRANTS))
        result = run(execute(req, sink=sink, gate=DefaultGate(), tools=registry(), model_factory=models,
                             engine=engine))  # fmt: skip
        results.append((result, sink, models))
    _same(results[0], results[1])
    assert results[0][0].status == "succeeded" and [s.status for s in results[0][1].tools] == ["ok"]
