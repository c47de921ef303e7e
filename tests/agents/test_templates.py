"""Templates build a valid spec that records where it came from."""

from __future__ import annotations

import pytest

from meshclaw.agents.templates import builtin_templates
from meshclaw.errors import InvalidInputError, NotFoundError


def test_assistant_builds_a_chat_agent_with_memory() -> None:
    spec = builtin_templates().get("assistant").spec("helper", {"model": "gpt-4o-mini"})
    assert (spec.name, spec.template, spec.memory) == ("helper", "assistant", True)
    assert spec.model is not None and spec.model.name == "gpt-4o-mini"
    assert spec.purpose == "A chat assistant that remembers what I tell it."


def test_template_settings_are_checked() -> None:
    assistant = builtin_templates().get("assistant")
    with pytest.raises(InvalidInputError, match="template 'assistant' needs 'Model'"):
        assistant.spec("helper", {})
    with pytest.raises(
        InvalidInputError, match=r"settings\.colour: template 'assistant' has no such setting"
    ):
        assistant.spec("helper", {"model": "m", "colour": "blue"})


def test_unknown_template_lists_the_known_ones() -> None:
    # Every built-in, in order (the playbooks add theirs).
    with pytest.raises(
        NotFoundError, match=r"no template named 'x' \(templates: assistant, [^)]*inbox-triage"
    ):
        builtin_templates().get("x")


def test_registries_are_not_shared() -> None:
    first, second = builtin_templates(), builtin_templates()
    assert first.get("assistant") is second.get("assistant")
    assert first is not second and first._templates is not second._templates


def test_a_bad_agent_name_gets_the_spec_message() -> None:
    with pytest.raises(InvalidInputError) as caught:
        builtin_templates().get("assistant").spec("Bad Name", {"model": "m"})
    assert caught.value.field == "name"
    assert caught.value.message.startswith("template 'assistant': name: 'Bad Name' is not an agent name")
