"""Listing folders, searching and reading messages against Dovecot, through the tools."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from meshclaw.tools.registry import ToolError
from tests.connectors.email.conftest import Mail, append, imap_for, token


def _message(subject: str, body: str = "Hello.", sender: str = "Dana <dana@outside.example>") -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "alice@example.test"
    message["Subject"] = subject
    message["Message-ID"] = f"<{token()}@outside.example>"
    message.set_content(body)
    return bytes(message)


def test_list_folders_shows_special_folders_and_counts(mail: Mail) -> None:
    append(mail.server, "alice", _message(f"count {token()}"))
    folders = {item["folder"]: item for item in mail.call("email_list_folders", account="alice")["folders"]}
    assert {"INBOX", "Sent", "Drafts", "Archive", "Trash"} <= set(folders)
    assert folders["Sent"]["special_use"] == "\\Sent"
    assert folders["INBOX"]["messages"] >= 1


def test_utf8_folder_names_round_trip(mail: Mail) -> None:
    name = f"Rechnungen/Übersicht-日本-{token()}"
    with imap_for(mail.server, "alice") as client:
        client.create_folder(name)
    uid = append(mail.server, "alice", _message("in a unicode folder"), folder=name)
    folders = [item["folder"] for item in mail.call("email_list_folders", account="alice")["folders"]]
    assert name in folders
    found = mail.call("email_search_messages", account="alice", folder=name)
    assert [item["uid"] for item in found["messages"]] == [uid]


def test_search_by_sender_subject_and_flags_newest_first(mail: Mail) -> None:
    tag = token()
    first = append(mail.server, "alice", _message(f"report {tag} one"))
    second = append(mail.server, "alice", _message(f"report {tag} two", sender="eve@elsewhere.example"))
    by_subject = mail.call("email_search_messages", account="alice", subject=tag)
    assert [item["uid"] for item in by_subject["messages"]] == [second, first]
    assert by_subject["total"] == 2
    by_sender = mail.call("email_search_messages", account="alice", subject=tag, sender="eve@elsewhere")
    assert [item["uid"] for item in by_sender["messages"]] == [second]
    assert by_sender["messages"][0]["from"] == "eve@elsewhere.example"
    limited = mail.call("email_search_messages", account="alice", subject=tag, limit=1)
    assert [item["uid"] for item in limited["messages"]] == [second] and limited["total"] == 2
    mail.call("email_flag_messages", account="alice", uids=[first], add=["flagged"])
    flagged = mail.call("email_search_messages", account="alice", subject=tag, flagged_only=True)
    assert [item["uid"] for item in flagged["messages"]] == [first]


def test_rfc2047_subject_and_sender_are_decoded_and_searchable(mail: Mail) -> None:
    tag = token()
    raw = (
        "From: =?utf-8?b?w4lsb2TDrWUgTcO8bGxlcg==?= <elodie@outside.example>\r\n"
        "To: alice@example.test\r\n"
        f"Subject: =?utf-8?q?R=C3=A9union_=E2=9C=85_?= =?iso-8859-1?q?=E0_midi?= {tag}\r\n"
        "Message-ID: <rfc2047-" + tag + "@outside.example>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "Grüße, 你好 🙂\r\n"
    ).encode()
    uid = append(mail.server, "alice", raw)
    found = mail.call("email_search_messages", account="alice", subject="Réunion ✅")
    assert uid in [item["uid"] for item in found["messages"]]
    message = mail.call("email_read_message", account="alice", uid=uid)
    assert message["subject"] == f"Réunion ✅ à midi {tag}"
    assert message["from"] == "Élodíe Müller <elodie@outside.example>"
    assert message["sender"] == "elodie@outside.example"
    assert message["body"].strip() == "Grüße, 你好 🙂"
    assert message["notes"] == []


def test_reading_does_not_mark_seen(mail: Mail) -> None:
    uid = append(mail.server, "alice", _message(f"unread {token()}"))
    message = mail.call("email_read_message", account="alice", uid=uid)
    assert message["body"].strip() == "Hello." and "\\Seen" not in message["flags"]
    again = mail.call("email_read_message", account="alice", uid=uid)
    assert "\\Seen" not in again["flags"]


def test_reading_a_missing_uid_says_so(mail: Mail) -> None:
    with pytest.raises(ToolError, match="no message with UID 999999 in 'INBOX'"):
        mail.call("email_read_message", account="alice", uid=999999)
    with pytest.raises(ToolError, match="there is no folder 'Nope'"):
        mail.call("email_search_messages", account="alice", folder="Nope")


def test_an_account_the_call_cannot_use_is_a_tool_error(mail: Mail) -> None:
    with pytest.raises(ToolError, match="no email account named 'someone-else'"):
        mail.call("email_list_folders", account="someone-else")


def test_the_headers_sorting_rules_read_are_returned(mail: Mail) -> None:
    tag = token()
    raw = (
        "From: Letters <news@letters.example>\r\nTo: alice@example.test\r\n"
        f"Subject: weekly {tag}\r\nMessage-ID: <{tag}@letters.example>\r\n"
        "In-Reply-To: <parent@example.test>\r\nReferences: <root@example.test> <parent@example.test>\r\n"
        "List-Unsubscribe: <mailto:unsub@letters.example>,\r\n <https://letters.example/u?x=1>\r\n"
        "List-Id: Weekly <weekly.letters.example>\r\nPrecedence: bulk\r\nAuto-Submitted: auto-generated\r\n"
        "X-Spam-Flag: NO\r\n\r\nTop stories.\r\n"
    ).encode()
    message = mail.call("email_read_message", account="alice", uid=append(mail.server, "alice", raw))
    assert message["in_reply_to"] == "<parent@example.test>"
    assert message["references"] == "<root@example.test> <parent@example.test>"
    assert message["list_unsubscribe"] == "<mailto:unsub@letters.example>, <https://letters.example/u?x=1>"
    assert (message["list_id"], message["precedence"]) == ("Weekly <weekly.letters.example>", "bulk")
    assert (message["auto_submitted"], message["spam_flag"]) == ("auto-generated", "NO")
    plain = mail.call("email_read_message", account="alice", uid=append(mail.server, "alice", _message(tag)))
    assert [plain[name] for name in ("list_unsubscribe", "list_id", "precedence", "auto_submitted")] == [
        ""
    ] * 4
