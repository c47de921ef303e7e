"""The `inbox-triage` template and rules without a server: what a person gets in a few clicks, and the
sender lists' matching."""

from __future__ import annotations

import pytest

from meshclaw.agents.playbooks.catalog import builtin_playbooks
from meshclaw.agents.playbooks.inbox_rules import TriageSettings, by_rule, listed
from meshclaw.agents.spec import CronTrigger, EventTrigger
from meshclaw.agents.templates import builtin_templates
from meshclaw.errors import InvalidInputError


def test_the_template_grants_every_tool_on_the_account_and_triggers_at_dawn_and_on_mail() -> None:
    template = builtin_templates().get("inbox-triage")
    spec = template.spec("triage", {"account": "work-mail", "vip_senders": "boss@acme.example, @board.example",
                                    "timezone": "Europe/Berlin"})  # fmt: skip
    assert spec.template == "inbox-triage" and "inbox-triage" in builtin_playbooks()
    assert spec.model is None  # rules only until a model is named
    assert {grant.tool for grant in spec.tools} == {
        "email_list_folders", "email_search_messages", "email_read_message", "email_flag_messages",
        "email_move_messages", "email_save_draft", "email_notify_owner",
    }  # fmt: skip
    assert all(grant.account == "work-mail" for grant in spec.tools)
    assert not any("send" in grant.tool for grant in spec.tools)  # it cannot send to anyone but the owner
    cron, event = spec.triggers
    assert (
        isinstance(cron, CronTrigger)
        and cron.expression() == "30 6 * * 1-5"
        and cron.timezone == "Europe/Berlin"
    )
    assert (
        isinstance(event, EventTrigger)
        and event.event == "email.received"
        and event.match == {"account": "work-mail"}
    )
    settings = TriageSettings.of(spec.settings)
    assert settings.vip_senders == ("boss@acme.example", "@board.example")
    assert settings.folders["newsletter"] == "Newsletters" and settings.folders["urgent"] == ""
    assert (settings.minutes_per_email, settings.minutes_per_draft, settings.draft_replies) == (
        0.5,
        3.0,
        True,
    )
    with pytest.raises(InvalidInputError, match="needs 'Email account'"):
        template.spec("triage", {})


def test_sender_lists_match_addresses_domains_and_subdomains() -> None:
    entries = ("boss@acme.example", "@board.example", "letters.example")
    assert listed("Boss@Acme.example", entries) and listed("ceo@board.example", entries)
    assert listed("news@mail.letters.example", entries)
    assert not listed("other@acme.example", entries) and not listed("x@notboard.example", entries)


def test_rules_read_headers_and_leave_the_rest_to_the_model() -> None:
    settings = TriageSettings.of({"account": "a", "vip_senders": ["boss@acme.example"]})
    assert by_rule({"sender": "x@y.example", "precedence": "bulk"}, settings) == ("newsletter", "precedence")
    assert by_rule({"sender": "x@y.example", "spam_flag": "YES, score=9"}, settings) == (
        "spam",
        "x-spam-flag",
    )
    assert by_rule({"sender": "x@y.example", "auto_submitted": "auto-replied"}, settings) == (
        "fyi",
        "auto-submitted",
    )
    assert by_rule({"sender": "x@y.example", "auto_submitted": "no"}, settings) is None
    assert by_rule({"sender": "boss@acme.example", "list_id": "<l.example>"}, settings) == (
        "urgent",
        "vip_senders",
    )


def test_with_a_chat_account_the_digest_goes_to_the_owners_dm_there() -> None:
    template = builtin_templates().get("inbox-triage")
    for connector in ("slack", "matrix"):
        spec = template.spec("triage", {"account": "work-mail", f"{connector}_account": "work-chat"})
        assert (f"{connector}_notify_owner", "work-chat") in [(g.tool, g.account) for g in spec.tools]
        settings = TriageSettings.of(spec.settings)
        assert settings.digest and settings.digest_chat is not None
        assert (settings.digest_chat.connector, settings.digest_chat.notify_owner) == (
            connector, f"{connector}_notify_owner")  # fmt: skip
    quiet = template.spec("triage", {"account": "work-mail", "matrix_account": "work-chat", "digest": "none"})
    assert TriageSettings.of(quiet.settings).digest is False
    assert "matrix_notify_owner" not in [grant.tool for grant in quiet.tools]
    mail = TriageSettings.of(template.spec("triage", {"account": "work-mail"}).settings)
    assert mail.digest and mail.digest_chat is None  # by mail, as before
    with pytest.raises(InvalidInputError, match="exactly one"):
        template.spec("triage", {"account": "work-mail", "slack_account": "s", "matrix_account": "m"})
