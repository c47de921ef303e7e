"""The deployment templates build the agents a person gets in a few clicks: grants that name their
accounts and stay within the chosen services, environments and channel; the triggers; the settings."""

from __future__ import annotations

from meshclaw.agents.playbooks.catalog import builtin_playbooks
from meshclaw.agents.templates import builtin_templates


def test_deployment_watch_watches_the_chosen_services_only_during_meetings_if_asked() -> None:
    spec = builtin_templates().get("deployment-watch").spec("watch", {
        "deploy_account": "prod", "slack_account": "work-slack", "services": "web, api",
        "only_in_meetings": "yes"})  # fmt: skip
    assert spec.template == "deployment-watch" and spec.template in builtin_playbooks()
    assert spec.model is None and spec.allow_overlap
    grants = {grant.tool: grant for grant in spec.tools}
    assert sorted(grants) == ["deploy_get_status", "deploy_rollback_release", "deploy_watch_release",
                              "slack_notify_owner", "slack_post_message"]  # fmt: skip
    assert "deploy_start_release" not in grants  # it watches and rolls back; it never deploys
    rollback = grants["deploy_rollback_release"]
    assert rollback.account == "prod"
    assert rollback.scopes == {"services": ("web", "api"), "environments": ("production",)}
    assert grants["slack_post_message"].scopes == {"channels": ("deploys",)}
    triggers = [(t.event, t.match, t.condition) for t in spec.triggers]  # type: ignore[union-attr]
    assert triggers == [
        ("deployment.started", {"account": "prod", "service": "web"}, "owner_in_meeting"),
        ("deployment.started", {"account": "prod", "service": "api"}, "owner_in_meeting"),
    ]
    assert spec.settings["minutes_watched"] == 15.0 and spec.settings["window_seconds"] == 0.0
    always = builtin_templates().get("deployment-watch").spec("watch", {"deploy_account": "prod",
                                                                        "slack_account": "work-slack"})  # fmt: skip
    assert [t.condition for t in always.triggers] == [None]  # type: ignore[union-attr]


def test_deploy_on_request_listens_to_dms_and_may_read_nothing_else() -> None:
    spec = builtin_templates().get("deploy-on-request").spec("deployer", {
        "deploy_account": "stage", "slack_account": "work-slack", "requesters": "U1, U2"})  # fmt: skip
    assert spec.template == "deploy-on-request" and spec.template in builtin_playbooks()
    grants = {grant.tool: grant for grant in spec.tools}
    assert grants["deploy_start_release"].scopes == {"services": ("web",), "environments": ("staging",)}
    assert sorted(t for t in grants if t.startswith("slack_")) == ["slack_notify_owner",
                                                                   "slack_read_direct_messages"]  # fmt: skip
    assert [(t.event, t.match) for t in spec.triggers] == [("chat.dm_received", {"account": "work-slack"})]  # type: ignore[union-attr]
    assert spec.settings["requesters"] == ["U1", "U2"]
