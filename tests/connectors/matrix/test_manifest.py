"""The Matrix connector as data: found by the catalog, every tool classified and described, secrets secret,
a config that refuses what it cannot use, and `check` proving an account works."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from meshclaw.connectors.catalog import connector_names, load
from meshclaw.connectors.contract import StaticAccounts
from meshclaw.connectors.matrix.config import MatrixConfig
from meshclaw.connectors.matrix.manifest import connector
from meshclaw.tools.effects import EffectClass
from tests.connectors.matrix.conftest import World, account, run

EXPECTED = {
    "matrix_list_rooms": EffectClass.READ_PRIVATE,
    "matrix_read_messages": EffectClass.READ_UNTRUSTED,
    "matrix_post_message": EffectClass.COMMUNICATE_EXTERNAL,
    "matrix_add_reaction": EffectClass.WRITE_INTERNAL,
    "matrix_open_dm": EffectClass.COMMUNICATE_EXTERNAL,
    "matrix_notify_owner": EffectClass.WRITE_INTERNAL,
}


def test_the_catalog_finds_the_connector() -> None:
    assert "matrix" in connector_names()
    found = load("matrix")
    assert found.config is MatrixConfig
    assert [source.name for source in found.events] == ["sync"]
    assert set(found.events[0].emits) == {
        "chat.mentioned",
        "chat.dm_received",
        "chat.message_received",
        "chat.reaction_added",
    }
    assert found.ask_approval is not None


def test_every_tool_has_its_effect_class_a_description_and_strict_arguments() -> None:
    tools = {spec.name: spec for spec in connector().tools(StaticAccounts())}
    assert {name: spec.effect for name, spec in tools.items()} == EXPECTED
    for spec in tools.values():
        assert spec.description.strip()
        assert spec.origin == "matrix"
        assert spec.args.model_config.get("extra") == "forbid"
        assert "account" in spec.args.model_fields
        assert all(field.description for field in spec.args.model_fields.values()), spec.name
    assert tools["matrix_read_messages"].untrusted_result
    assert tools["matrix_list_rooms"].untrusted_result  # names and topics are written by any member
    for name in ("matrix_read_messages", "matrix_post_message", "matrix_add_reaction"):
        assert "room" in tools[name].args.model_fields and "channels" in tools[name].scopes
    assert "to" in tools["matrix_open_dm"].args.model_fields  # a destination the policy gate sees


def test_secrets_are_secret_and_never_printed() -> None:
    config = MatrixConfig(
        homeserver="https://matrix.example.org/", user_id="@bot:example.org", password="hunter2"
    )
    assert isinstance(config.password, SecretStr)
    assert MatrixConfig.model_fields["access_token"].annotation == SecretStr | None
    assert "hunter2" not in repr(config)
    assert config.homeserver == "https://matrix.example.org"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "exactly one of access_token and password"),
        ({"password": "a", "access_token": "b"}, "exactly one of access_token and password"),
        ({"password": "a", "homeserver": "matrix.example.org"}, "http:// or https://"),
        ({"password": "a", "user_id": "bot"}, "not a Matrix user id"),
        ({"password": "a", "owner_matrix_user": "ana@example.org"}, "not a Matrix user id"),
        ({"password": "a", "pasword": "typo"}, "Extra inputs"),
    ],
)
def test_the_config_refuses_what_it_cannot_use(fields: dict[str, str], message: str) -> None:
    values = {"homeserver": "https://matrix.example.org", "user_id": "@bot:example.org", **fields}
    with pytest.raises(ValidationError, match=message):
        MatrixConfig.model_validate(values)


def test_check_proves_the_account_works(world: World) -> None:
    answer = run(connector().check(account(world.config)))
    assert answer == f"{world.bot.user_id} on {world.server.url}, in 0 rooms"
