"""Flagging and moving messages, and how the policy gate reads the email tools' arguments."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from meshclaw.agents.spec import ToolGrant
from meshclaw.policy.scopes import out_of_scope
from meshclaw.tools.registry import ToolError
from tests.connectors.email.conftest import Mail, append, imap_for, token


def _raw(subject: str) -> bytes:
    return f"From: x@outside.example\r\nSubject: {subject}\r\nMessage-ID: <{token()}@x>\r\n\r\nx\r\n".encode()


def test_flags_are_added_and_removed(mail: Mail) -> None:
    uids = [append(mail.server, "alice", _raw(f"flags {token()}")) for _ in range(2)]
    added = mail.call("email_flag_messages", account="alice", uids=uids, add=["seen", "flagged"])
    assert all({"\\Seen", "\\Flagged"} <= set(flags) for flags in added["flags"].values())
    removed = mail.call("email_flag_messages", account="alice", uids=uids[:1], remove=["flagged"])
    assert removed["flags"] == {str(uids[0]): ["\\Seen"]}
    with pytest.raises(ToolError, match="give flags to add or to remove"):
        mail.call("email_flag_messages", account="alice", uids=uids)
    with pytest.raises(ToolError, match="no message with UID 888888 in 'INBOX'; nothing was changed"):
        mail.call("email_flag_messages", account="alice", uids=[uids[0], 888888], add=["answered"])
    assert "\\Answered" not in mail.call("email_read_message", account="alice", uid=uids[0])["flags"]


def test_move_to_an_existing_folder_keeps_flags(mail: Mail) -> None:
    tag = token()
    target = f"Projekte/Zürich-{tag}"
    with imap_for(mail.server, "alice") as client:
        client.create_folder(target)
    uid = append(mail.server, "alice", _raw(f"move {tag}"))
    mail.call("email_flag_messages", account="alice", uids=[uid], add=["flagged"])
    moved = mail.call(
        "email_move_messages", account="alice", source_folder="INBOX", target_folder=target, uids=[uid]
    )
    assert moved["moved"] == 1
    assert mail.call("email_search_messages", account="alice", subject=tag)["total"] == 0
    there = mail.call("email_search_messages", account="alice", folder=target, subject=tag)["messages"]
    assert len(there) == 1 and "\\Flagged" in there[0]["flags"]
    with pytest.raises(ToolError, match="there is no folder 'Nowhere' to move to"):
        mail.call(
            "email_move_messages", account="alice", source_folder=target, target_folder="Nowhere", uids=[1]
        )


def test_search_by_date(mail: Mail) -> None:
    tag = token()
    uid = append(mail.server, "alice", _raw(f"dated {tag}"))
    today = date.today()
    found = mail.call(
        "email_search_messages", account="alice", subject=tag, since=str(today - timedelta(days=1))
    )
    assert [item["uid"] for item in found["messages"]] == [uid]
    assert mail.call("email_search_messages", account="alice", subject=tag, before=str(today - timedelta(days=1)))["total"] == 0  # fmt: skip


def test_the_gate_sees_recipients_and_folders_in_the_arguments() -> None:
    send = ToolGrant.model_validate(
        {"tool": "email_send_message", "account": "a", "scopes": {"recipient_domains": ["example.test"]}}
    )
    inside = {"account": "a", "to": ["bob@example.test"], "cc": [], "bcc": [], "subject": "s", "body": "b"}
    assert out_of_scope(send, inside) is None
    outside = {**inside, "bcc": ["Eve <eve@evil.example>"]}
    assert "eve@evil.example" in str(out_of_scope(send, outside))
    move = ToolGrant.model_validate(
        {"tool": "email_move_messages", "account": "a", "scopes": {"folders": ["INBOX", "Archive"]}}
    )
    assert (
        out_of_scope(
            move, {"account": "a", "source_folder": "INBOX", "target_folder": "Archive", "uids": [1]}
        )
        is None
    )
    assert "Trash" in str(
        out_of_scope(move, {"account": "a", "source_folder": "INBOX", "target_folder": "Trash", "uids": [1]})
    )


def test_archive_moves_to_the_accounts_archive_folder(mail: Mail) -> None:
    tag = token()
    with imap_for(mail.server, "alice") as client:
        client.create_folder(f"Newsletters-{tag}")
    uids = [append(mail.server, "alice", _raw(f"news {tag}"), folder=f"Newsletters-{tag}") for _ in range(2)]
    result = mail.call("email_archive_message", account="alice", folder=f"Newsletters-{tag}", uids=uids)
    assert result == {"archived": 2, "folder": f"Newsletters-{tag}", "archive_folder": "Archive"}
    assert mail.call("email_search_messages", account="alice", folder="Archive", subject=tag)["total"] == 2
    assert mail.call("email_search_messages", account="alice", folder=f"Newsletters-{tag}")["total"] == 0


def test_delete_removes_only_the_named_messages(mail: Mail) -> None:
    tag = token()
    keep, drop = (append(mail.server, "alice", _raw(f"del {tag}")) for _ in range(2))
    with imap_for(mail.server, "alice") as client:  # someone else's pending delete must survive ours
        client.select_folder("INBOX")
        client.add_flags([keep], [b"\\Deleted"])
    assert mail.call("email_delete_messages", account="alice", folder="INBOX", uids=[drop]) == {"deleted": 1, "folder": "INBOX"}  # fmt: skip
    left = mail.call("email_search_messages", account="alice", subject=tag)["messages"]
    assert [item["uid"] for item in left] == [keep]


def test_keywords_tag_messages_and_searches_select_by_them(mail: Mail) -> None:
    tag = token()
    first, second = (append(mail.server, "alice", _raw(f"tags {tag} {n}")) for n in (1, 2))
    tagged = mail.call(
        "email_flag_messages", account="alice", uids=[first], add_keywords=["$Triaged", "$Urgent"]
    )
    assert {"$Triaged", "$Urgent"} <= set(tagged["flags"][str(first)])
    with_tag = mail.call("email_search_messages", account="alice", subject=tag, keyword="$Urgent")
    without = mail.call("email_search_messages", account="alice", subject=tag, without_keyword="$Triaged")
    assert [m["uid"] for m in with_tag["messages"]] == [first] and [
        m["uid"] for m in without["messages"]
    ] == [second]
    untagged = mail.call("email_flag_messages", account="alice", uids=[first], remove_keywords=["$Urgent"])
    assert "$Urgent" not in untagged["flags"][str(first)]
    with pytest.raises(ValueError, match="not a keyword"):
        mail.call("email_flag_messages", account="alice", uids=[first], add_keywords=["\\Deleted"])
    with pytest.raises(ValueError, match="not a keyword"):
        mail.call("email_search_messages", account="alice", keyword="a b")
