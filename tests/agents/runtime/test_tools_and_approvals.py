"""Tool calls through the gate: allowed, denied, waiting for approval then resumed (the tool runs exactly
once), approval bound to the exact arguments, and arguments that fail their schema."""

from __future__ import annotations

from pydantic import BaseModel

from meshclaw.agents.runtime.contract import (
    ApprovalDecision,
    GateDecision,
    ResumeState,
    RunInfo,
    RunResult,
    ToolCall,
)
from meshclaw.agents.runtime.default_gate import DefaultGate
from meshclaw.agents.runtime.loop import execute
from meshclaw.agents.runtime.testing import Call, RecordingSink, Say, ScriptedModels
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolError, ToolRegistry, ToolSpec
from tests.agents.runtime.conftest import agent, request, run


class DeployArgs(BaseModel):
    service: str
    version: str


class Deployer:
    """A deploy tool that counts how often it really ran."""

    def __init__(self) -> None:
        self.calls: list[DeployArgs] = []

    async def __call__(self, args: DeployArgs) -> str:
        self.calls.append(args)
        return f"deployed {args.service}@{args.version}"


class NoteArgs(BaseModel):
    text: str


async def note(args: NoteArgs) -> str:
    if args.text == "boom":
        raise ToolError("the notes service said no")
    return f"noted: {args.text}"


def registry(deployer: Deployer) -> ToolRegistry:
    tools = ToolRegistry()
    tools.register(ToolSpec(name="deploy_start_release", description="Deploy a version of a service.",
                            effect=EffectClass.DEPLOY, args=DeployArgs, function=deployer))  # fmt: skip
    tools.register(ToolSpec(name="notes_add_note", description="Add an internal note.",
                            effect=EffectClass.WRITE_INTERNAL, args=NoteArgs, function=note))  # fmt: skip
    return tools


GRANTS = [{"tool": "deploy_*"}, {"tool": "notes_add_note"}]
DEPLOY = {"service": "web", "version": "1.2.3"}


def go(models: ScriptedModels, deployer: Deployer, sink: RecordingSink, **fields: object) -> RunResult:
    req = request(agent(tools=GRANTS), **fields)
    return run(execute(req, sink=sink, gate=DefaultGate(), tools=registry(deployer), model_factory=models))


def test_an_allowed_tool_runs_and_the_model_sees_its_result() -> None:
    models = ScriptedModels([Call("notes_add_note", {"text": "hi"}), Say("Done.")])
    sink = RecordingSink()
    result = go(models, Deployer(), sink)
    assert (result.status, result.output) == ("succeeded", "Done.")
    [step] = sink.tools
    assert (step.name, step.decision, step.status, step.effect) == (
        "notes_add_note",
        "allow",
        "ok",
        "write_internal",
    )
    assert "noted: hi" in str(models.requests[1][-1])
    assert (result.usage.requests, result.usage.tool_calls) == (2, 1)
    assert len(sink.models) == 2 and sink.models[0].tokens.total == 15


def test_a_tool_error_goes_back_to_the_model() -> None:
    models = ScriptedModels([Call("notes_add_note", {"text": "boom"}), Say("It failed.")])
    sink = RecordingSink()
    result = go(models, Deployer(), sink)
    assert result.status == "succeeded"
    assert (sink.tools[0].status, sink.tools[0].error) == ("error", "the notes service said no")
    assert "the notes service said no" in str(models.requests[1][-1])


def test_a_denied_call_does_not_run_and_the_model_reads_why() -> None:
    class Refuse:
        async def decide(self, call: ToolCall, run: RunInfo) -> GateDecision:
            return GateDecision(decision="deny", reason="frozen for the holidays")

    deployer = Deployer()
    models = ScriptedModels([Call("deploy_start_release", DEPLOY), Say("Could not.")])
    sink = RecordingSink()
    req = request(agent(tools=GRANTS))
    result = run(execute(req, sink=sink, gate=Refuse(), tools=registry(deployer), model_factory=models))
    assert result.status == "succeeded" and deployer.calls == []
    assert (sink.tools[0].decision, sink.tools[0].status) == ("deny", "denied")
    assert "frozen for the holidays" in str(models.requests[1][-1])


def test_an_ungranted_tool_is_not_offered_to_the_model() -> None:
    models = ScriptedModels([Say("ok")])
    run(execute(request(agent(tools=[{"tool": "notes_add_note"}])), sink=RecordingSink(), gate=DefaultGate(),
                tools=registry(Deployer()), model_factory=models))  # fmt: skip
    offered = str(models.requests[0])
    assert "deploy_start_release" not in offered


def test_needs_approval_then_approved_runs_the_tool_exactly_once() -> None:
    deployer = Deployer()
    models = ScriptedModels([Call("deploy_start_release", DEPLOY, tool_call_id="c1"), Say("Deployed.")])
    sink = RecordingSink()
    first = go(models, deployer, sink)
    assert first.status == "waiting_approval" and deployer.calls == []
    [pending] = first.pending
    assert (pending.tool_call_id, pending.tool_name, dict(pending.args)) == (
        "c1",
        "deploy_start_release",
        DEPLOY,
    )
    assert pending.effect == EffectClass.DEPLOY and len(pending.args_digest) == 64
    assert first.history is not None
    assert sink.tools[-1].status == "pending"

    approve = ApprovalDecision(
        tool_call_id="c1", approved=True, args_digest=pending.args_digest, approval_id="ap-9"
    )
    resume = ResumeState(history=first.history, decisions=(approve,))
    second = go(models, deployer, sink, resume=resume, spent=first.usage)
    assert (second.status, second.output) == ("succeeded", "Deployed.")
    assert [c.version for c in deployer.calls] == ["1.2.3"]
    assert (sink.tools[-1].status, sink.tools[-1].approval_id) == ("ok", "ap-9")
    assert second.usage.requests == 1, "a resumed segment reports only its own usage"


def test_an_approval_for_other_arguments_does_not_run_the_tool() -> None:
    deployer = Deployer()
    models = ScriptedModels([Call("deploy_start_release", DEPLOY, tool_call_id="c1"), Say("Not deployed.")])
    sink = RecordingSink()
    first = go(models, deployer, sink)
    assert first.history is not None
    forged = ApprovalDecision(tool_call_id="c1", approved=True, args_digest="0" * 64)
    second = go(models, deployer, sink, resume=ResumeState(history=first.history, decisions=(forged,)))
    assert second.status == "succeeded" and deployer.calls == []
    assert (sink.tools[-1].decision, sink.tools[-1].status) == ("deny", "denied")


def test_a_denied_approval_tells_the_model_and_runs_nothing() -> None:
    deployer = Deployer()
    models = ScriptedModels([Call("deploy_start_release", DEPLOY, tool_call_id="c1"), Say("Understood.")])
    sink = RecordingSink()
    first = go(models, deployer, sink)
    assert first.history is not None
    no = ApprovalDecision(tool_call_id="c1", approved=False, args_digest=first.pending[0].args_digest,
                          reason="not during the freeze")  # fmt: skip
    second = go(models, deployer, sink, resume=ResumeState(history=first.history, decisions=(no,)))
    assert second.status == "succeeded" and deployer.calls == []
    assert "not during the freeze" in str(models.requests[-1][-1])
    assert sink.tools[-1].reason == "denied by a person: not during the freeze"


def test_arguments_failing_their_schema_are_retried_then_fail_the_run() -> None:
    deployer = Deployer()
    bad = Call("deploy_start_release", {"service": 3})
    models = ScriptedModels([bad, Call("deploy_start_release", {"service": "web", "version": 2}), bad])
    result = go(models, deployer, RecordingSink())
    assert result.status == "failed" and deployer.calls == []
    assert result.error is not None and "deploy_start_release" in result.error and "retries" in result.error
    assert "version" in str(models.requests[1][-1]), "the model was told what was wrong"


def test_a_schema_retry_can_succeed() -> None:
    models = ScriptedModels(
        [Call("notes_add_note", {"txt": "x"}), Call("notes_add_note", {"text": "x"}), Say("ok")]
    )
    sink = RecordingSink()
    result = go(models, Deployer(), sink)
    assert result.status == "succeeded" and [s.status for s in sink.tools] == ["ok"]


def test_a_kill_switch_stops_before_the_next_call() -> None:
    deployer = Deployer()
    models = ScriptedModels([Call("notes_add_note", {"text": "x"}), Say("ok")])
    req = request(agent(tools=GRANTS))
    result = run(execute(req, sink=RecordingSink(), gate=DefaultGate(), tools=registry(deployer),
                         model_factory=models, should_stop=lambda: True))  # fmt: skip
    assert result.status == "cancelled" and models.requests == []


def test_unattended_and_attended_runs_both_wait_for_deploy_approval() -> None:
    for mode in ("unattended", "attended"):
        models = ScriptedModels([Call("deploy_start_release", DEPLOY), Say("x")])
        result = go(models, Deployer(), RecordingSink(), mode=mode)
        assert result.status == "waiting_approval", mode


def test_a_resumed_history_that_cannot_be_read_fails_clearly() -> None:
    models = ScriptedModels([Say("x")])
    broken = ResumeState(history=b"{not json", decisions=())
    result = go(models, Deployer(), RecordingSink(), resume=broken)
    assert result.status == "failed" and result.error is not None and "history" in result.error


def test_structured_output() -> None:
    from meshclaw.agents.runtime.testing import Answer

    schema = {"type": "object", "properties": {"priority": {"type": "integer"}}, "required": ["priority"]}
    models = ScriptedModels([Answer({"priority": 2})])
    result = go(models, Deployer(), RecordingSink(), output_schema=schema)
    assert (result.status, result.output) == ("succeeded", {"priority": 2})
