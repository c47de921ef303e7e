"""Taint: once a read_untrusted tool ran, the run is tainted, for the gate, for tools that ask
(`runtime.taint.tainted`, as memory does) and for the next segment (`RunResult.tainted`)."""

from __future__ import annotations

from pydantic import BaseModel

from meshclaw.agents.runtime.contract import RunRequest
from meshclaw.agents.runtime.default_gate import DefaultGate
from meshclaw.agents.runtime.loop import execute
from meshclaw.agents.runtime.taint import tainted
from meshclaw.agents.runtime.testing import Call, RecordingSink, Say, ScriptedModels
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolRegistry, ToolSpec
from tests.agents.runtime.conftest import agent, request, run


class NoArgs(BaseModel):
    pass


def registry(seen: list[bool], req: RunRequest) -> ToolRegistry:
    async def read_inbox(args: NoArgs) -> str:
        return "a stranger's email"

    async def check(args: NoArgs) -> str:
        seen.append(tainted(req))
        return "checked"

    tools = ToolRegistry()
    tools.register(ToolSpec(name="mail_read_inbox", description="Read mail.", effect=EffectClass.READ_UNTRUSTED,
                            args=NoArgs, function=read_inbox))  # fmt: skip
    tools.register(ToolSpec(name="memo_check_taint", description="Check.", effect=EffectClass.READ_PRIVATE,
                            args=NoArgs, function=check))  # fmt: skip
    return tools


def test_a_run_is_tainted_once_untrusted_content_was_read() -> None:
    seen: list[bool] = []
    req = request(agent(tools=[{"tool": "mail_*"}, {"tool": "memo_*"}]))
    script = [Call("memo_check_taint"), Call("mail_read_inbox"), Call("memo_check_taint"), Say("ok")]
    result = run(execute(req, sink=RecordingSink(), gate=DefaultGate(), tools=registry(seen, req),
                         model_factory=ScriptedModels(script)))  # fmt: skip
    assert result.status == "succeeded" and seen == [False, True] and result.tainted


def test_an_earlier_tainted_segment_taints_the_next_and_outside_a_run_the_answer_is_yes() -> None:
    seen: list[bool] = []
    req = request(agent(tools=[{"tool": "memo_*"}]), tainted=True)
    result = run(execute(req, sink=RecordingSink(), gate=DefaultGate(), tools=registry(seen, req),
                         model_factory=ScriptedModels([Call("memo_check_taint"), Say("ok")])))  # fmt: skip
    assert seen == [True] and result.tainted
    assert tainted(req) is True
