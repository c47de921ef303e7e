"""The agent form's choices are the spec's, and a form laid over a definition changes only what it sends."""

from __future__ import annotations

from typing import get_args

from meshclaw.agents.spec import AgentSpec
from meshclaw.web import agent_form


def test_each_choice_offers_exactly_the_values_the_spec_allows() -> None:
    for choice in agent_form.CHOICES:
        allowed = get_args(AgentSpec.model_fields[choice.name].annotation)
        assert tuple(option.value for option in choice.options) == allowed, choice.name
        assert choice.name in agent_form.FIELDS


def test_a_field_not_sent_keeps_its_value_and_one_sent_empty_is_the_default() -> None:
    base = AgentSpec.model_validate(
        {
            "name": "a",
            "model": {"name": "m1", "provider": "p"},
            "limits": {"max_steps": 5, "max_tokens": 9},
            "unattended_approvals": "skip",
            "tainted_answers": "as_written",
        }
    ).model_dump(mode="json")
    form = agent_form.read(
        {"memory": "on", "model.name": "m1", "limits.max_steps": "", "purpose": " p\r\nq "}
    )
    data = agent_form.definition(form, base=base)
    assert data["unattended_approvals"] == "skip" and data["tainted_answers"] == "as_written"
    assert data["model"] == {"name": "m1", "provider": "p"}  # the same model keeps its provider
    assert "max_steps" not in data["limits"] and data["limits"]["max_tokens"] == 9
    assert data["purpose"] == "p\nq"
    assert "model" not in agent_form.definition({**form, "model.name": ""}, base=base)
    # The memory checkbox: unticked on the form is off; not sent at all keeps the value.
    assert agent_form.read({"memory.shown": "1"}) == {"memory": ""}
    assert "memory" not in agent_form.definition(agent_form.read({}), base={})
