"""The connector as the platform sees it: found by the catalog, every tool named, described, classified
and scoped as the policy expects, secrets secret, and `check` proving an account works."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from meshclaw.connectors.catalog import connector_names, load
from meshclaw.connectors.contract import Account, StaticAccounts
from meshclaw.connectors.email.config import EmailConfig
from meshclaw.policy.destinations import is_destination_arg
from meshclaw.policy.scopes import SCOPE_ARGUMENTS
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolError
from tests.connectors.email.conftest import Mail, config, imap_for, run
from tests.servers.mail import MailServer

EXPECTED = {
    "email_list_folders": EffectClass.READ_PRIVATE,
    "email_search_messages": EffectClass.READ_UNTRUSTED,
    "email_read_message": EffectClass.READ_UNTRUSTED,
    "email_flag_messages": EffectClass.WRITE_INTERNAL,
    "email_move_messages": EffectClass.WRITE_INTERNAL,
    "email_archive_message": EffectClass.WRITE_INTERNAL,
    "email_delete_messages": EffectClass.DESTRUCTIVE,
    "email_save_draft": EffectClass.WRITE_INTERNAL,
    "email_notify_owner": EffectClass.WRITE_INTERNAL,
    "email_send_message": EffectClass.COMMUNICATE_EXTERNAL,
    "email_send_reply": EffectClass.COMMUNICATE_EXTERNAL,
}


def test_the_catalog_finds_it_and_every_tool_is_classified_described_and_typed() -> None:
    assert "email" in connector_names()
    email = load("email")
    tools = {tool.name: tool for tool in email.tools(StaticAccounts())}
    assert {name: tool.effect for name, tool in tools.items()} == EXPECTED
    for tool in tools.values():
        assert tool.origin == "email" and tool.description.strip()
        fields = tool.args.model_fields
        assert "account" in fields and fields["account"].is_required()
        assert all(field.description for field in fields.values()), tool.name
        assert tool.args.model_config.get("extra") == "forbid"
        for scope in tool.scopes:
            assert scope in SCOPE_ARGUMENTS
        if tool.effect is EffectClass.COMMUNICATE_EXTERNAL:
            assert "recipient_domains" in tool.scopes
            assert {"to", "cc", "bcc"} <= set(fields) and all(
                is_destination_arg(name) for name in ("to", "cc", "bcc")
            )
        if "folders" in tool.scopes:
            assert set(fields) & set(SCOPE_ARGUMENTS["folders"]), tool.name
    assert [spec.emits for spec in email.events] == [("email.received",)]


def test_the_password_is_secret_and_unknown_fields_are_refused(mail_server: MailServer) -> None:
    cfg = config(mail_server, "alice")
    assert isinstance(cfg.password, SecretStr) and "alice-pw" not in repr(cfg)
    with pytest.raises(ValidationError):
        EmailConfig.model_validate({**cfg.model_dump(), "password": "x", "imap_hots": "typo"})


def test_arguments_refuse_header_injection_and_non_addresses() -> None:
    tools = {tool.name: tool for tool in load("email").tools(StaticAccounts())}
    args = tools["email_send_message"].args
    with pytest.raises(ValidationError, match="line break"):
        args.model_validate({"account": "a", "to": ["b@example.test"], "subject": "x\r\nBcc: eve@evil.example", "body": ""})  # fmt: skip
    with pytest.raises(ValidationError, match="not one email address"):
        args.model_validate(
            {"account": "a", "to": ["b@example.test, c@example.test"], "subject": "x", "body": ""}
        )
    with pytest.raises(ValidationError):
        args.model_validate({"account": "a", "to": [], "subject": "x", "body": ""})


def test_check_proves_the_account_and_a_bad_password_fails_it(mail_server: MailServer) -> None:
    check = load("email").check
    good = Account(
        name="m", connector="email", owner_user_id=1, config=config(mail_server, "carol", security="tls")
    )
    assert run(check(good)).startswith("INBOX has ")
    bad = Account(
        name="m", connector="email", owner_user_id=1, config=config(mail_server, "carol", password="nope")
    )
    with pytest.raises(ToolError, match="IMAP login as 'carol'"):
        run(check(bad))


def test_text_that_reaches_an_imap_command_cannot_carry_a_line_break(mail_server: MailServer) -> None:
    """imapclient sends search text as it is: 'x\\r\\nA1 DELETE Victim' deleted the folder Victim in a trial."""
    mail = Mail(mail_server, alice=config(mail_server, "alice"))
    with imap_for(mail_server, "alice") as client:
        if not client.folder_exists("Victim"):
            client.create_folder("Victim")
    attacks = [
        ("email_search_messages", {"subject": 'x"\r\nZ1 DELETE Victim\r\nZ2 NOOP'}),
        ("email_search_messages", {"folder": "INBOX\r\nZ1 DELETE Victim"}),
        (
            "email_move_messages",
            {"source_folder": "INBOX", "target_folder": "Archive\nZ1 DELETE Victim", "uids": [1]},
        ),
        ("email_save_draft", {"folder": "Drafts\rZ1 DELETE Victim"}),
    ]
    for name, arguments in attacks:
        with pytest.raises(ValidationError, match="line break"):
            mail.call(name, account="alice", **arguments)
    # The same values arriving some other way (an account's folder names) are refused before a command.
    sneaky = Mail(mail_server, alice=config(mail_server, "alice", sent_folder="Sent\r\nZ1 DELETE Victim"))
    with pytest.raises(ToolError, match="contains a line break"):
        sneaky.call(
            "email_send_message", key="k", account="alice", to=["bob@example.test"], subject="x", body="x"
        )
    with imap_for(mail_server, "alice") as client:
        assert client.folder_exists("Victim")


def test_the_docs_example_config_is_valid_and_every_field_and_tool_is_documented() -> None:
    page = (Path(__file__).parents[3] / "docs" / "connectors" / "email.md").read_text()
    example = re.search(r"```toml\n(.*?)```", page, re.DOTALL)
    assert example is not None
    parsed = EmailConfig.model_validate(tomllib.loads(example.group(1)))
    assert parsed.password.get_secret_value() == "vault:work-mail-password"
    for name in EmailConfig.model_fields:
        assert f"`{name}`" in page or f"\n{name} =" in page, (
            f"config field {name} is not in docs/connectors/email.md"
        )
    for tool in load("email").tools(StaticAccounts()):
        assert f"`{tool.name}`" in page, f"tool {tool.name} is not in docs/connectors/email.md"
