"""The tools' arguments follow the policy's naming conventions, so the gate can judge them: `channel` is
what the `channels` scope narrows (by name or id, with wildcards), and no Slack tool has a destination
argument (a post goes to a channel, which the scope governs)."""

from __future__ import annotations

from meshclaw.agents.spec import ToolGrant
from meshclaw.connectors.contract import StaticAccounts
from meshclaw.connectors.slack.manifest import connector
from meshclaw.policy.destinations import destinations, is_destination_arg
from meshclaw.policy.scopes import out_of_scope

POST = {"account": "work-slack", "channel": "deploys", "text": "Deployed."}


def test_the_channels_scope_narrows_the_channel_argument() -> None:
    grant = ToolGrant(
        tool="slack_post_message",
        account="work-slack",
        scopes={"channels": ("deploys", "#deploys", "C0DEPLOY*")},
    )
    assert out_of_scope(grant, POST) is None
    assert out_of_scope(grant, {**POST, "channel": "#deploys"}) is None
    assert out_of_scope(grant, {**POST, "channel": "C0DEPLOY42"}) is None
    assert (
        out_of_scope(grant, {**POST, "channel": "general"})
        == "channel 'general' is outside the granted channels (deploys, #deploys, C0DEPLOY*)"
    )
    assert out_of_scope(grant, {**POST, "account": "other-slack"}) == (
        "the grant allows account 'work-slack', not 'other-slack'"
    )


def test_no_tool_has_a_destination_and_every_channel_tool_is_scoped() -> None:
    for tool in connector().tools(StaticAccounts()):
        fields = tool.args.model_fields
        assert not [name for name in fields if is_destination_arg(name)], tool.name
        assert ("channel" in fields) is ("channels" in tool.scopes), tool.name
        assert "accounts" not in tool.scopes, tool.name  # the grant's `account` field narrows that
    assert destinations(POST) == []


def test_mentions_everywhere_is_refused_under_a_grant_narrowed_to_channels() -> None:
    """Leaving out `channel` means every channel the bot is in; the gate sees the validated arguments
    (defaults filled in), so a grant narrowed to channels refuses it and allows the granted channel."""
    [mentions] = [t for t in connector().tools(StaticAccounts()) if t.name == "slack_read_bot_mentions"]
    grant = ToolGrant(tool="slack_read_bot_mentions", account="work-slack", scopes={"channels": ("deploys",)})
    everywhere = mentions.args.model_validate({"account": "work-slack"}).model_dump(mode="json")
    assert (
        out_of_scope(grant, everywhere)
        == "channel is left empty, which means every one; the grant allows only deploys"
    )
    one = mentions.args.model_validate({"account": "work-slack", "channel": "deploys"}).model_dump(
        mode="json"
    )
    assert out_of_scope(grant, one) is None
