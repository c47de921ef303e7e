"""A refused call's record is bounded: a compromised model that writes megabytes into the name and the
arguments of calls the gate refuses (a tool it was not given, a granted tool outside its scope) leaves
records of a few kilobytes, on both the direct loop and the graph, and the audit log's redaction still
finds the secret fields in what is kept. Small arguments are kept exactly."""

from __future__ import annotations

import json
from typing import Literal

import pytest
from pydantic import BaseModel

from meshclaw.agents.runtime.loop import execute
from meshclaw.agents.runtime.refused import MAX_ARGS_CHARS, refused_args
from meshclaw.agents.runtime.testing import Call, RecordingSink, Say, ScriptedModels
from meshclaw.audit.redact import REDACTED, redact
from meshclaw.policy.gate import PolicyGate
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolRegistry, ToolSpec
from tests.agents.runtime.conftest import agent, request, run

Engine = Literal["auto", "graph"]
MEGABYTE = "x" * 1_000_000
BOUND = MAX_ARGS_CHARS + 2_000
"""What a cut record may hold beyond the budget: the markers and the JSON punctuation."""


class PostArgs(BaseModel):
    account: str
    channel: str
    text: str


def registry(ran: list[str]) -> ToolRegistry:
    async def post(args: PostArgs) -> str:
        ran.append(args.text[:20])
        return "posted"

    tools = ToolRegistry()
    tools.register(ToolSpec(name="chat_post_message", description="Post.", args=PostArgs, function=post,  # type: ignore[arg-type]
                            effect=EffectClass.COMMUNICATE_EXTERNAL, scopes=("channels",), origin="connector"))  # fmt: skip
    return tools


@pytest.mark.parametrize("engine", ["auto", "graph"])
def test_megabytes_in_refused_calls_leave_bounded_records(engine: Engine) -> None:
    wanted = {"to": ["a@evil.example"] * 50_000, "body": MEGABYTE, "nested": [[[[["deep"]]]]] * 10,
              "smtp_password": "hunter2" + MEGABYTE}  # fmt: skip
    models = ScriptedModels([
        Call("email_send_message", wanted, tool_call_id="ungranted"),
        Call(f"evil_{MEGABYTE}", {"x": 1}, tool_call_id="unknown"),
        Call("chat_post_message", {"account": "work", "channel": "#finance", "text": MEGABYTE},
             tool_call_id="scope"),
        Say("done"),
    ])  # fmt: skip
    grant = {"tool": "chat_post_message", "account": "work", "scopes": {"channels": ["#general"]}}
    spec = agent(tools=[grant])
    sink = RecordingSink()
    ran: list[str] = []

    result = run(execute(request(spec), sink=sink, gate=PolicyGate(), tools=registry(ran), model_factory=models,
                         engine=engine))  # fmt: skip

    assert result.status == "succeeded", result.error
    assert ran == []
    steps = {step.tool_call_id: step for step in sink.tools}
    assert [(steps[i].status, steps[i].rule) for i in ("ungranted", "unknown", "scope")] == [
        ("denied", "grant.missing"), ("denied", "grant.missing"), ("denied", "grant.scope")
    ]  # fmt: skip
    for step in steps.values():
        assert len(json.dumps(step.args, ensure_ascii=False)) < BOUND, step.tool_call_id
        assert len(step.name) < 300 and len(step.reason) < 2_100
    ungranted = dict(steps["ungranted"].args or {})
    assert ungranted["to"][:2] == ["a@evil.example"] * 2 and "more" in ungranted["to"][-1]
    assert ungranted["body"].startswith("xxx") and ungranted["body"].endswith("more characters]")
    # The audit log's redaction (applied when it stores them) still sees the secret field by its name.
    assert redact(ungranted)["smtp_password"] == REDACTED  # type: ignore[index]
    assert steps["unknown"].name.startswith("evil_xxx") and steps["unknown"].name.endswith("more characters]")
    assert steps["scope"].args["text"].endswith("more characters]")  # type: ignore[index]


def test_small_arguments_are_kept_exactly_and_depth_is_bounded() -> None:
    small = {"to": ["bob@example.test"], "body": "Hi", "n": 3, "ok": True, "none": None}
    assert refused_args(small) == small
    deep: object = "bottom"
    for _ in range(5_000):  # deeper than json.dumps walks
        deep = [deep]
    cut = refused_args({"deep": deep})
    assert len(json.dumps(cut)) < 1_000 and "nested deeper than" in json.dumps(cut)
