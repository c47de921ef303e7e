"""The tool registry: names, effect classes, grant patterns; and every built-in tool is complete."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolRegistry, ToolSpec, default_registry, grant_matches


class NoArgs(BaseModel):
    pass


async def nothing(args: NoArgs) -> str:
    return "ok"


def tool(name: str, effect: EffectClass = EffectClass.READ_PRIVATE) -> ToolSpec:
    return ToolSpec(name=name, description="does a thing", effect=effect, args=NoArgs, function=nothing)


def test_every_registered_tool_has_an_effect_class_a_description_and_typed_args() -> None:
    registry = default_registry()
    assert len(registry) >= 1
    for spec in registry:
        assert isinstance(spec.effect, EffectClass), spec.name
        assert spec.description.strip(), spec.name
        assert issubclass(spec.args, BaseModel), spec.name


def test_a_tool_without_an_effect_class_is_refused() -> None:
    with pytest.raises(ValueError, match="no effect class"):
        ToolSpec(name="mail_send_message", description="x", effect=None, args=NoArgs, function=nothing)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["send", "email_send", "Email_send_message", "email-send-message"])
def test_names_must_be_domain_verb_object(name: str) -> None:
    with pytest.raises(ValueError, match="<domain>_<verb>_<object>"):
        tool(name)


def test_register_get_list_and_match_grants() -> None:
    registry = ToolRegistry()
    for name in ("email_send_message", "email_list_messages", "chat_post_message"):
        registry.register(tool(name))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(tool("chat_post_message"))
    assert registry.get("chat_post_message") is not None and registry.get("nope_do_it") is None
    assert [t.name for t in registry.list()] == [
        "chat_post_message",
        "email_list_messages",
        "email_send_message",
    ]
    assert [t.name for t in registry.matching(["email_*"])] == ["email_list_messages", "email_send_message"]
    assert [t.name for t in registry.matching(["chat_post_message"])] == ["chat_post_message"]
    assert grant_matches("email_*", "email_send_message") and not grant_matches("email_*", "mail_send_x")
    assert not grant_matches("email_send", "email_send_message")
