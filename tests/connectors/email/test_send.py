"""Sending and replying through Postfix (SMTP AUTH, delivered over LMTP to Dovecot), in every transport
security mode, with the Sent copy and the exactly-once check by Message-ID."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import Message

import pytest

from meshclaw.connectors.email.config import Security
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolError
from tests.connectors.email.conftest import Mail, append, config, imap_for, token, wait_for
from tests.servers.mail import MailServer


def _inbox(server: MailServer, user: str, tag: str, *, folder: str = "INBOX") -> list[Message]:
    with imap_for(server, user) as client:
        client.select_folder(folder, readonly=True)
        uids = client.search(["SUBJECT", tag])
        fetched = client.fetch(uids, [b"BODY.PEEK[]"]) if uids else {}
        return [message_from_bytes(data[b"BODY[]"], policy=policy.default) for data in fetched.values()]


@pytest.mark.parametrize("security", ["plain", "starttls", "tls"])
def test_send_arrives_and_is_kept_in_sent(mail_server: MailServer, security: Security) -> None:
    mail = Mail(mail_server, alice=config(mail_server, "alice", security=security, display_name="Alice A."))
    tag = token()
    result = mail.call(
        "email_send_message", account="alice", to=["bob@example.test"], cc=["Carol <carol@example.test>"],
        bcc=["alice@example.test"], subject=f"Déploiement {tag} ✅", body="Deploy at 15:00?\nAlice",
    )  # fmt: skip
    assert result["status"] == "sent" and "refused" not in result
    received = wait_for(lambda: _inbox(mail_server, "bob", tag))
    assert len(received) == 1
    message = received[0]
    assert message["Subject"] == f"Déploiement {tag} ✅"
    assert (message["From"].addresses[0].display_name, message["From"].addresses[0].addr_spec) == (
        "Alice A.",
        "alice@example.test",
    )
    assert message["Message-ID"] == result["message_id"]
    assert "Bcc" not in message
    assert message.get_content().replace("\r\n", "\n").strip() == "Deploy at 15:00?\nAlice"
    assert wait_for(lambda: _inbox(mail_server, "carol", tag))  # cc
    assert wait_for(lambda: _inbox(mail_server, "alice", tag))  # bcc, envelope only
    sent = _inbox(mail_server, "alice", tag, folder="Sent")
    assert [item["Message-ID"] for item in sent] == [result["message_id"]]


def test_a_repeated_call_with_the_same_key_sends_once(mail: Mail) -> None:
    tag = token()
    arguments = {"account": "alice", "to": ["bob@example.test"], "subject": f"once {tag}", "body": "Once."}
    first = mail.call("email_send_message", key=f"run-{tag}:3", **arguments)
    again = mail.call("email_send_message", key=f"run-{tag}:3", **arguments)
    assert first["status"] == "sent"
    assert again == {
        "status": "already_sent", "message_id": first["message_id"], "sent_folder_uid": first["sent_folder_uid"]
    }  # fmt: skip
    other = mail.call("email_send_message", key=f"run-{tag}:4", **arguments)  # another call of the run
    assert other["status"] == "sent" and other["message_id"] != first["message_id"]
    assert (
        len(wait_for(lambda: len(_inbox(mail.server, "bob", tag)) == 2 and _inbox(mail.server, "bob", tag)))
        == 2
    )
    ids = sorted(item["Message-ID"] for item in _inbox(mail.server, "bob", tag))
    assert ids == sorted([first["message_id"], other["message_id"]])


def test_reply_threads_under_the_original(mail: Mail) -> None:
    tag = token()
    original = (
        "From: Bob <bob@example.test>\r\nTo: alice@example.test\r\n"
        f"Subject: Budget {tag}\r\nMessage-ID: <orig-{tag}@example.test>\r\n"
        f"References: <root-{tag}@example.test>\r\nIn-Reply-To: <root-{tag}@example.test>\r\n\r\nNumbers?\r\n"
    ).encode()
    uid = append(mail.server, "alice", original)
    result = mail.call(
        "email_send_reply", account="alice", uid=uid, to=["bob@example.test"], body="Attached."
    )
    assert result["status"] == "sent"
    reply = wait_for(lambda: _inbox(mail.server, "bob", f"Re: Budget {tag}"))[0]
    assert reply["Subject"] == f"Re: Budget {tag}"
    assert reply["In-Reply-To"] == f"<orig-{tag}@example.test>"
    assert reply["References"] == f"<root-{tag}@example.test> <orig-{tag}@example.test>"
    flags = mail.call("email_read_message", account="alice", uid=uid)["flags"]
    assert "\\Answered" in flags
    # Replying to the reply keeps one "Re:" and extends References.
    bob_uid = mail.call("email_search_messages", account="bob", subject=f"Re: Budget {tag}")["messages"][0][
        "uid"
    ]
    second = mail.call(
        "email_send_reply", account="bob", uid=bob_uid, to=["alice@example.test"], body="Thanks"
    )
    back = wait_for(
        lambda: [m for m in _inbox(mail.server, "alice", tag) if m["Message-ID"] == second["message_id"]]
    )[0]
    assert back["Subject"] == f"Re: Budget {tag}"
    assert back["References"] == f"<root-{tag}@example.test> <orig-{tag}@example.test> {result['message_id']}"


def test_refused_recipients_are_reported(mail: Mail) -> None:
    tag = token()
    partly = mail.call(
        "email_send_message", account="alice", to=["bob@example.test", "refused@example.test"],
        subject=f"partly {tag}", body="x",
    )  # fmt: skip
    assert partly["status"] == "sent"
    assert [item.split(" ")[0] for item in partly["refused"]] == ["refused@example.test"]
    assert wait_for(lambda: _inbox(mail.server, "bob", tag))
    with pytest.raises(ToolError, match=r"refused every recipient: refused@example.test \(554"):
        mail.call(
            "email_send_message", account="alice", to=["refused@example.test"], subject=f"no {tag}", body="x"
        )
    assert not _inbox(mail.server, "alice", f"no {tag}", folder="Sent")


def test_a_missing_sent_folder_does_not_fail_a_send_that_went_out(mail_server: MailServer) -> None:
    mail = Mail(mail_server, alice=config(mail_server, "alice", sent_folder="Gesendet"))
    tag = token()
    result = mail.call(
        "email_send_message", key=f"run-{tag}:1", account="alice", to=["bob@example.test"], subject=f"s {tag}", body="x"
    )  # fmt: skip
    assert result["status"] == "sent"
    assert "no copy was saved in 'Gesendet'" in result["note"]
    assert wait_for(lambda: _inbox(mail_server, "bob", tag))


def test_draft_is_saved_once_per_key(mail: Mail) -> None:
    tag = token()
    arguments = {
        "account": "alice",
        "to": ["bob@example.test"],
        "bcc": ["carol@example.test"],
        "subject": f"draft {tag}",
        "body": "Later.",
    }
    first = mail.call("email_save_draft", key=f"run-{tag}:1", **arguments)
    again = mail.call("email_save_draft", key=f"run-{tag}:1", **arguments)
    assert first["status"] == "saved" and again["status"] == "already_saved" and again["uid"] == first["uid"]
    drafts = _inbox(mail.server, "alice", tag, folder="Drafts")
    assert len(drafts) == 1 and drafts[0]["Bcc"] == "carol@example.test"
    found = mail.call("email_search_messages", account="alice", folder="Drafts", subject=tag)
    assert "\\Draft" in found["messages"][0]["flags"]
    assert not _inbox(mail.server, "bob", tag)  # a draft is not sent


def test_non_ascii_names_are_encoded_and_arrive_decoded(mail_server: MailServer) -> None:
    mail = Mail(mail_server, alice=config(mail_server, "alice", display_name="Ana Pérez-Groß 🙂"))
    tag = token()
    mail.call(
        "email_send_message", account="alice", to=["Jürgen „J“ Müller <bob@example.test>"],
        subject=f"Grüße {tag} — 日本語の件名がとても長い場合でも正しく折り返されること", body="Ça marche ✓",
    )  # fmt: skip
    with imap_for(mail_server, "bob") as client:
        client.select_folder("INBOX", readonly=True)
        uid = wait_for(lambda: client.search(["SUBJECT", tag]))[0]
        raw = client.fetch([uid], [b"BODY.PEEK[HEADER]"])[uid][b"BODY[HEADER]"]
    assert raw.isascii()  # RFC 2047 on the wire, no raw UTF-8 in headers
    reader = Mail(mail_server, bob=config(mail_server, "bob"))
    message = reader.call("email_read_message", account="bob", uid=uid)
    assert message["subject"] == f"Grüße {tag} — 日本語の件名がとても長い場合でも正しく折り返されること"
    assert message["from"] == "Ana Pérez-Groß 🙂 <alice@example.test>"
    assert message["to"] == "Jürgen „J“ Müller <bob@example.test>"
    assert message["body"].strip() == "Ça marche ✓"


def test_with_append_to_sent_off_no_copy_is_made_and_the_check_still_looks(mail_server: MailServer) -> None:
    # Like a provider that files sent mail itself: here the test plays the provider's part.
    mail = Mail(mail_server, alice=config(mail_server, "alice", append_to_sent=False))
    tag = token()
    arguments = {"account": "alice", "to": ["bob@example.test"], "subject": f"own copy {tag}", "body": "x"}
    first = mail.call("email_send_message", key=f"run-{tag}:1", **arguments)
    assert first["status"] == "sent" and "sent_folder_uid" not in first
    assert not _inbox(mail_server, "alice", tag, folder="Sent")
    delivered = wait_for(lambda: _inbox(mail_server, "bob", tag))
    append(mail_server, "alice", bytes(delivered[0]), folder="Sent")  # the provider's own copy
    again = mail.call("email_send_message", key=f"run-{tag}:1", **arguments)
    assert again["status"] == "already_sent"
    assert len(_inbox(mail_server, "bob", tag)) == 1


def test_notify_owner_writes_only_to_the_accounts_own_address(mail: Mail) -> None:
    tag = token()
    tool = mail.tools["email_notify_owner"]
    assert tool.effect == EffectClass.WRITE_INTERNAL and set(tool.args.model_fields) == {
        "account",
        "subject",
        "body",
    }
    with pytest.raises(ValueError):
        mail.call("email_notify_owner", account="alice", to=["bob@example.test"], subject=tag, body="x")
    result = mail.call(
        "email_notify_owner", account="alice", key=f"digest-{tag}", subject=f"Digest {tag}", body="2 urgent"
    )
    assert result["status"] == "sent"
    (received,) = wait_for(lambda: _inbox(mail.server, "alice", tag))
    assert str(received["To"]) == "alice@example.test" and received["Auto-Submitted"] == "auto-generated"
    assert received.get_content().strip() == "2 urgent"
    again = mail.call(
        "email_notify_owner", account="alice", key=f"digest-{tag}", subject=f"Digest {tag}", body="2 urgent"
    )
    assert again["status"] == "already_sent"
    assert _inbox(mail.server, "bob", tag) == []
