"""The connector's shape: found by the catalog, every tool classified and described, arguments strict and
described, secrets secret, deploys approval-gated by their effect class."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from meshclaw.connectors.catalog import connector_names, load
from meshclaw.connectors.contract import StaticAccounts
from meshclaw.connectors.deploy.config import ArgoCDTarget, GithubActionsTarget, WebhookTarget
from meshclaw.connectors.deploy.tools import StartArgs
from meshclaw.tools.effects import EffectClass

EFFECTS = {
    "deploy_start_release": EffectClass.DEPLOY,
    "deploy_rollback_release": EffectClass.DEPLOY,
    "deploy_watch_release": EffectClass.READ_PRIVATE,
    "deploy_get_status": EffectClass.READ_PRIVATE,
}


def test_the_catalog_finds_it_and_every_tool_is_classified_and_described() -> None:
    assert "deploy" in connector_names()
    deploy = load("deploy")
    tools = {tool.name: tool for tool in deploy.tools(StaticAccounts())}
    assert {name: tool.effect for name, tool in tools.items()} == EFFECTS
    for tool in tools.values():
        assert tool.description.strip() and tool.origin == "deploy"
        assert tool.scopes == ("services", "environments")
        assert tool.args.model_config.get("extra") == "forbid"
        for name, field in tool.args.model_fields.items():
            assert field.description, f"{tool.name}.{name} has no description"
        assert {"account", "service", "environment"} <= set(tool.args.model_fields)
    assert [spec.emits for spec in deploy.events] == [("deployment.started", "deployment.finished")]


def test_unknown_arguments_are_refused() -> None:
    with pytest.raises(ValidationError):
        StartArgs.model_validate(
            {"account": "a", "service": "web", "environment": "e", "version": "1", "force": True}
        )


@pytest.mark.parametrize(
    ("model", "field"), [(WebhookTarget, "secret"), (GithubActionsTarget, "token"), (ArgoCDTarget, "token")]
)
def test_secrets_are_secret_types(model: type, field: str) -> None:
    assert model.model_fields[field].annotation is SecretStr


def test_rollback_waits_for_a_person_unless_an_admin_preapproved_it() -> None:
    from meshclaw.agents.runtime.contract import RunInfo, ToolCall, args_digest
    from meshclaw.agents.runtime.flow import UntrustedContent
    from meshclaw.agents.spec import AgentSpec
    from meshclaw.policy.preapprovals import PreApproval
    from meshclaw.policy.rules import AgentPolicy, decide

    [rollback] = [
        tool for tool in load("deploy").tools(StaticAccounts()) if tool.name == "deploy_rollback_release"
    ]
    grant = {
        "tool": "deploy_*",
        "account": "prod",
        "scopes": {"services": ["web"], "environments": ["staging"]},
    }
    spec = AgentSpec.model_validate({"name": "releaser", "tools": [grant]})
    info = RunInfo(run_id="r1", agent_id=1, owner_user_id=1, mode="unattended", spec=spec,
                   untrusted=UntrustedContent(), effects_seen=frozenset())  # fmt: skip
    args = {"account": "prod", "service": "web", "environment": "staging"}
    call = ToolCall(tool_call_id="c1", name=rollback.name, args=args, args_digest=args_digest(args),
                    effect=rollback.effect, origin="deploy")  # fmt: skip
    assert decide(call, info, AgentPolicy()).decision == "needs_approval"
    preapproved = AgentPolicy(preapprovals=(
        PreApproval(id=1, tool="deploy_rollback_release", constraints={"service": "web", "environment": "staging"}),))  # fmt: skip
    assert decide(call, info, preapproved).rule == "preapproved"
    production = {**args, "environment": "production"}
    wrong = ToolCall(tool_call_id="c2", name=rollback.name, args=production, args_digest=args_digest(production),
                     effect=rollback.effect, origin="deploy")  # fmt: skip
    assert decide(wrong, info, preapproved).rule == "grant.scope"


def test_the_event_source_runs_only_where_the_target_can_report() -> None:
    from meshclaw.connectors.deploy.config import DeployConfig
    from meshclaw.connectors.deploy.manifest import can_poll

    base = {"services": ["web"], "environments": ["staging"]}
    commands = {"deploy": ["/bin/deploy", "{version}"], "rollback": ["/bin/rollback"]}
    blind = {"kind": "command", "state_dir": "/tmp/x", "commands": {"web": commands}}
    seeing = {**blind, "commands": {"web": {**commands, "status": ["/bin/status", "{service}"]}}}
    hook = {"kind": "webhook", "deploy_url": "https://ci.example.org/deploy", "secret": "s"}
    assert not can_poll(DeployConfig.model_validate({**base, "target": blind}))
    assert can_poll(DeployConfig.model_validate({**base, "target": seeing}))
    assert not can_poll(DeployConfig.model_validate({**base, "target": hook}))
    assert can_poll(
        DeployConfig.model_validate({**base, "target": {**hook, "status_url": "https://ci.example.org/s"}})
    )
