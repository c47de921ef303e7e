"""A playbook run started by an event outsiders can cause is tainted from its trigger, like a model run:
a tool argument that carries one of the event's values carries outsiders' text, so an admin's
pre-approval does not answer that call (only a person looking at it can), and the approval says where the
text came from. Arguments the event did not supply still take the pre-approval; an event the platform
vouches for (untrusted = False) changes nothing. A tool no registry has is refused and recorded."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from meshclaw.agents.playbooks.contract import Playbook
from meshclaw.agents.playbooks.runner import execute_playbook
from meshclaw.agents.playbooks.steps import Steps
from meshclaw.agents.runtime.contract import RunResult
from meshclaw.agents.runtime.event_input import trigger_event
from meshclaw.agents.runtime.testing import RecordingSink, ScriptedModels
from meshclaw.clock import SystemClock
from meshclaw.policy.gate import PolicyGate, StaticPolicy
from meshclaw.policy.preapprovals import PreApproval
from meshclaw.policy.rules import AgentPolicy
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolRegistry, ToolSpec
from tests.agents.runtime.conftest import agent, request, run

EVENT = "Event webhook.received: environment=production, service=web, version=6.6.6"
GRANTS = [{"tool": "deploy_start_release"}]


class DeployArgs(BaseModel):
    service: str
    environment: str
    version: str


def registry(deployed: list[str]) -> ToolRegistry:
    async def deploy(args: DeployArgs) -> str:
        deployed.append(f"{args.service} {args.version} {args.environment}")
        return "started"

    tools = ToolRegistry()
    tools.register(ToolSpec(name="deploy_start_release", description="Deploy.", args=DeployArgs,
                            effect=EffectClass.DEPLOY, function=deploy))  # type: ignore[arg-type]  # fmt: skip
    return tools


async def from_the_event(steps: Steps) -> dict[str, Any]:
    """Deploys what the event names (a version the webhook's sender chose)."""
    event = trigger_event(steps.request.input)
    assert event is not None
    fields = event.fields
    await steps.tool("deploy_start_release", service=fields["service"], environment=fields["environment"],
                     version=fields["version"])  # fmt: skip
    return {"deployed": True}


async def from_settings(steps: Steps) -> dict[str, Any]:
    """Started by the same event, but deploys only what its own settings name."""
    await steps.tool("deploy_start_release", service="web", environment="production",
                     version=str(steps.settings["version"]))  # fmt: skip
    return {"deployed": True}


async def unregistered(steps: Steps) -> dict[str, Any]:
    await steps.tool("ceo_mail_send", to="x@evil.example")
    return {}


PREAPPROVED = PolicyGate(StaticPolicy(AgentPolicy(preapprovals=(
    PreApproval(id=1, tool="deploy_start_release", constraints={"service": "web", "environment": "production"}),
))))  # fmt: skip


def go(
    body: Any, *, untrusted: bool, sink: RecordingSink, deployed: list[str], event: str = EVENT
) -> RunResult:
    spec = agent(tools=GRANTS, settings={"version": "1.2.0"})
    req = request(spec, input=event, tainted=untrusted, untrusted_input=untrusted)
    playbook = Playbook(name="test", title="Test", run=body)
    return run(execute_playbook(playbook, req, sink=sink, gate=PREAPPROVED, tools=registry(deployed),
                                model_factory=ScriptedModels([]), clock=SystemClock()))  # fmt: skip


def test_a_pre_approval_does_not_answer_a_call_carrying_an_outsiders_event() -> None:
    sink, deployed = RecordingSink(), []
    result = go(from_the_event, untrusted=True, sink=sink, deployed=deployed)
    assert result.status == "waiting_approval" and deployed == []
    (pending,) = result.pending
    assert "outsiders can write (event webhook.received)" in pending.reason
    assert "these arguments carry that content: service, environment, version" in pending.reason
    assert [(s.status, s.rule, s.taint_sources) for s in sink.tools] == [
        ("pending", "rule_of_two", ("event webhook.received",))
    ]
    assert result.tainted


def test_the_same_event_vouched_for_by_the_platform_is_pre_approved() -> None:
    sink, deployed = RecordingSink(), []
    result = go(from_the_event, untrusted=False, sink=sink, deployed=deployed)
    assert result.status == "succeeded" and deployed == ["web 6.6.6 production"]
    assert [(s.status, s.rule) for s in sink.tools] == [("ok", "preapproved")]


def test_only_arguments_that_carry_the_events_values_lose_the_pre_approval() -> None:
    # The version comes from the agent's settings, but `web` and `production` are values of the event as
    # well: code cannot tell the playbook did not take them from it, so they count, plain words or not.
    sink, deployed = RecordingSink(), []
    result = go(from_settings, untrusted=True, sink=sink, deployed=deployed)
    assert result.status == "waiting_approval" and deployed == []
    assert "these arguments carry that content: service, environment" in result.pending[0].reason
    # An event that shares no value with the call: the run is tainted, the pre-approval still answers.
    other = "Event webhook.received: environment=staging, service=api, version=9.9.9"
    sink, deployed = RecordingSink(), []
    result = go(from_settings, untrusted=True, sink=sink, deployed=deployed, event=other)
    assert result.status == "succeeded" and deployed == ["web 1.2.0 production"]
    assert [(s.status, s.rule) for s in sink.tools] == [("ok", "preapproved")]


@pytest.mark.parametrize("untrusted", [True, False])
def test_a_tool_no_registry_has_is_refused_and_recorded(untrusted: bool) -> None:
    sink = RecordingSink()
    result = go(unregistered, untrusted=untrusted, sink=sink, deployed=[])
    assert result.status == "failed" and "ceo_mail_send" in (result.error or "")
    [step] = sink.tools
    assert (step.name, step.status, step.rule) == ("ceo_mail_send", "denied", "grant.missing")
    assert dict(step.args or {}) == {"to": "x@evil.example"} and len(step.args_digest) == 64
