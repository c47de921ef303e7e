"""The Slack connector's shape: found by the catalog, every tool classified, described and strictly typed,
secrets secret, the effect classes the policy gate relies on."""

from __future__ import annotations

from pydantic import SecretStr

from meshclaw.connectors.catalog import connector_names, load
from meshclaw.connectors.contract import StaticAccounts
from meshclaw.connectors.slack.config import SlackConfig
from meshclaw.tools.effects import EffectClass

EXPECTED = {
    "slack_read_channel_history": EffectClass.READ_UNTRUSTED,
    "slack_read_thread_replies": EffectClass.READ_UNTRUSTED,
    "slack_read_direct_messages": EffectClass.READ_UNTRUSTED,
    "slack_read_bot_mentions": EffectClass.READ_UNTRUSTED,
    "slack_list_channels": EffectClass.READ_PRIVATE,
    "slack_post_message": EffectClass.COMMUNICATE_EXTERNAL,
    "slack_reply_thread": EffectClass.COMMUNICATE_EXTERNAL,
    "slack_add_reaction": EffectClass.WRITE_INTERNAL,
    "slack_notify_owner": EffectClass.WRITE_INTERNAL,
}


def test_the_catalog_finds_the_connector() -> None:
    assert "slack" in connector_names()
    connector = load("slack")
    assert connector.config is SlackConfig
    assert connector.inbound is not None and connector.ask_approval is not None
    assert [s.name for s in connector.events] == ["socket_mode"]


def test_every_tool_has_its_effect_class_a_description_and_strict_arguments() -> None:
    tools = load("slack").tools(StaticAccounts())
    assert {t.name: t.effect for t in tools} == EXPECTED
    for tool in tools:
        assert tool.description.strip() and tool.origin == "slack"
        schema = tool.args.model_json_schema()
        assert schema.get("additionalProperties") is False, tool.name
        assert "account" in schema["required"], tool.name
        for name, field in schema["properties"].items():
            assert field.get("description"), f"{tool.name}.{name} has no description"
        if "channel" in schema["properties"]:
            assert "channels" in tool.scopes, tool.name
    untrusted = {t.name for t in tools if t.untrusted_result}
    # Channel topics are written by the channels' members, so listing channels taints the run too.
    readers = {name for name, effect in EXPECTED.items() if effect is EffectClass.READ_UNTRUSTED}
    assert untrusted == readers | {"slack_list_channels"}


def test_secrets_are_secret_and_never_printed() -> None:
    config = SlackConfig(
        bot_token=SecretStr("xoxb-1"), signing_secret=SecretStr("shh"), app_token=SecretStr("xapp-1")
    )
    for name in ("bot_token", "user_token", "signing_secret", "app_token"):
        assert "SecretStr" in str(SlackConfig.model_fields[name].annotation), name
    assert "xoxb-1" not in repr(config) and "shh" not in repr(config)
    assert config.base_url == "https://slack.com/api/"


def test_socket_mode_runs_only_with_an_app_token() -> None:
    [source] = load("slack").events
    with_token = SlackConfig(
        bot_token=SecretStr("x"), signing_secret=SecretStr("s"), app_token=SecretStr("a")
    )
    without = SlackConfig(bot_token=SecretStr("x"), signing_secret=SecretStr("s"))
    assert source.enabled(with_token) is True
    assert source.enabled(without) is False
    assert set(source.emits) == {
        "chat.mentioned",
        "chat.dm_received",
        "chat.message_received",
        "chat.reaction_added",
    }


def test_only_the_owner_named_in_the_account_answers_approvals() -> None:
    identity = load("slack").owner_identity
    owned = SlackConfig(bot_token=SecretStr("x"), signing_secret=SecretStr("s"), owner_slack_user="U024BE7LH")
    assert identity(owned) == "U024BE7LH"
    assert identity(SlackConfig(bot_token=SecretStr("x"), signing_secret=SecretStr("s"))) is None
