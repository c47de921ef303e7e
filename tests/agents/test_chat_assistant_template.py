"""The chat assistant template: it listens only to its owner's DMs on the named account, may tell only the
owner (no grant that posts elsewhere unless picked), and names an account in every connector grant."""

from __future__ import annotations

import pytest

from meshclaw.agents.spec import EventTrigger
from meshclaw.agents.templates import builtin_templates
from meshclaw.errors import InvalidInputError


def test_the_spec_listens_to_the_owners_dms_and_grants_what_was_picked() -> None:
    template = builtin_templates().get("chat-assistant")
    spec = template.spec("helper", {"model": "m", "slack_account": "work-slack",
                                    "tools": "calendar_list_events@work-cal, web_fetch_page"})  # fmt: skip
    assert spec.template == "chat-assistant"
    (trigger,) = spec.triggers
    assert isinstance(trigger, EventTrigger)
    assert trigger.event == "chat.dm_received"
    assert trigger.match == {"account": "work-slack", "from_owner": "true"}
    assert [(g.tool, g.account) for g in spec.tools] == [
        ("slack_read_thread_replies", "work-slack"),
        ("slack_notify_owner", "work-slack"),
        ("calendar_list_events", "work-cal"),
        ("web_fetch_page", None),
    ]
    assert spec.settings == {"minutes_saved_per_answer": 3.0}
    assert spec.allow_overlap is True


def test_it_needs_an_account_and_a_number_of_minutes() -> None:
    template = builtin_templates().get("chat-assistant")
    with pytest.raises(InvalidInputError, match="needs 'Slack account'"):
        template.spec("helper", {"model": "m"})
    with pytest.raises(InvalidInputError, match="not a number"):
        template.spec("helper", {"model": "m", "slack_account": "s", "minutes_saved_per_answer": "lots"})


def test_a_matrix_account_instead_of_slack() -> None:
    template = builtin_templates().get("chat-assistant")
    spec = template.spec("helper", {"model": "m", "matrix_account": "work-matrix"})
    (trigger,) = spec.triggers
    assert isinstance(trigger, EventTrigger)
    assert (trigger.event, trigger.match) == (
        "chat.dm_received",
        {"account": "work-matrix", "from_owner": "true"},
    )
    assert [(g.tool, g.account) for g in spec.tools] == [
        ("matrix_read_messages", "work-matrix"),
        ("matrix_notify_owner", "work-matrix"),
    ]
    assert "matrix_read_messages" in (spec.instructions or "") and "slack" not in (spec.instructions or "")
    assert spec.purpose == "Answers my questions in my Matrix DMs with the bot."
    with pytest.raises(InvalidInputError, match="exactly one"):
        template.spec(
            "helper", {"model": "m", "matrix_account": "work-matrix", "slack_account": "work-slack"}
        )
