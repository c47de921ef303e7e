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


def test_deploy_on_request_in_channels_listens_to_who_may_ask_there_only() -> None:
    template = builtin_templates().get("deploy-on-request")
    owner_only = template.spec("deployer", {"deploy_account": "stage", "slack_account": "work-slack",
                                            "channels": "C0DEPLOYS, C0OPS"})  # fmt: skip
    grants = {grant.tool: grant for grant in owner_only.tools}
    for tool in (
        "slack_read_bot_mentions",
        "slack_read_thread_replies",
        "slack_add_reaction",
        "slack_reply_thread",
    ):
        assert grants[tool].scopes == {"channels": ("C0DEPLOYS", "C0OPS")}, tool
    assert "slack_post_message" not in grants and grants["slack_read_direct_messages"].scopes == {}
    assert [(t.event, t.match) for t in owner_only.triggers] == [  # type: ignore[union-attr]
        ("chat.dm_received", {"account": "work-slack"}),
        ("chat.mentioned", {"account": "work-slack", "channel": "C0DEPLOYS", "from_owner": "true"}),
        ("chat.mentioned", {"account": "work-slack", "channel": "C0OPS", "from_owner": "true"}),
    ]
    listed = template.spec("deployer", {"deploy_account": "stage", "matrix_account": "work-matrix",
                                         "channels": "!ops:example.org", "requesters": "@ana:example.org, @bo:example.org"})  # fmt: skip
    assert sorted(grant.tool for grant in listed.tools if grant.account == "work-matrix") == [
        "matrix_add_reaction", "matrix_notify_owner", "matrix_post_message", "matrix_read_messages"]  # fmt: skip
    assert [(t.event, t.match) for t in listed.triggers] == [  # type: ignore[union-attr]
        ("chat.dm_received", {"account": "work-matrix"}),
        (
            "chat.mentioned",
            {"account": "work-matrix", "room": "!ops:example.org", "sender": "@ana:example.org"},
        ),
        (
            "chat.mentioned",
            {"account": "work-matrix", "room": "!ops:example.org", "sender": "@bo:example.org"},
        ),
    ]
    assert listed.settings["matrix_account"] == "work-matrix" and "slack_account" not in listed.settings


def test_deployment_watch_posts_in_a_matrix_room_and_tells_the_owner_there() -> None:
    spec = builtin_templates().get("deployment-watch").spec("watch", {
        "deploy_account": "prod", "matrix_account": "work-matrix", "channel": "#deploys:example.org"})  # fmt: skip
    grants = {grant.tool: grant for grant in spec.tools}
    assert grants["matrix_post_message"].scopes == {"channels": ("#deploys:example.org",)}
    assert grants["matrix_notify_owner"].account == "work-matrix"
    assert not any(tool.startswith("slack_") for tool in grants)
