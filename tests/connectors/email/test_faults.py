"""Faults: wrong passwords, untrusted certificates, servers that hang, connections cut mid-command. Each
ends in a ToolError that says what happened (and never the password), in bounded time, and no effect is
lost or done twice."""

from __future__ import annotations

import time

import pytest

from meshclaw.connectors.email.config import Security
from meshclaw.tools.registry import ToolError
from tests.connectors.email.conftest import Mail, append, config, imap_for, token, wait_for
from tests.connectors.email.sockets import CuttingProxy, silent_server
from tests.servers.mail import MailServer


def test_wrong_password_is_a_clear_error_for_imap_and_smtp(mail_server: MailServer) -> None:
    for security in ("plain", "starttls", "tls"):
        mail = Mail(
            mail_server, alice=config(mail_server, "alice", security=security, password="wrong-pw-123")
        )
        with pytest.raises(ToolError, match=r"IMAP login as 'alice' .* failed: check the account's username and password") as imap_error:  # fmt: skip
            mail.call("email_list_folders", account="alice")
        with pytest.raises(ToolError, match=r"SMTP login as 'alice' .* failed \(535\)") as smtp_error:
            mail.call("email_send_message", account="alice", to=["bob@example.test"], subject="x", body="x")
        for error in (imap_error.value, smtp_error.value):
            assert "wrong-pw-123" not in str(error)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_an_untrusted_certificate_is_refused(mail_server: MailServer, security: Security) -> None:
    mail = Mail(mail_server, alice=config(mail_server, "alice", security=security, ca_file=None))
    with pytest.raises(ToolError, match=r"TLS with the IMAP server localhost:\d+ failed \(self-signed certificate\); check imap_security, and ca_file"):  # fmt: skip
        mail.call("email_list_folders", account="alice")
    with pytest.raises(ToolError, match=r"TLS with the SMTP server localhost:\d+ failed \(self-signed certificate\); check smtp_security"):  # fmt: skip
        mail.call("email_send_message", account="alice", to=["bob@example.test"], subject="x", body="x")


def test_plain_login_where_the_server_wants_tls_first_says_so(mail_server: MailServer) -> None:
    mail = Mail(mail_server, alice=config(mail_server, "alice", smtp_port=mail_server.submission_port))
    with pytest.raises(
        ToolError, match="offers no password login without TLS: set smtp_security to starttls or tls"
    ):
        mail.call("email_send_message", account="alice", to=["bob@example.test"], subject="x", body="x")


def test_a_server_that_never_answers_times_out(mail_server: MailServer) -> None:
    with silent_server() as port:
        hung = config(mail_server, "alice", imap_port=port, smtp_port=port, timeout_seconds=1)
        mail = Mail(mail_server, alice=hung)
        started = time.monotonic()
        with pytest.raises(ToolError, match=f"IMAP server 127.0.0.1:{port} did not answer within 1 s"):
            mail.call("email_search_messages", account="alice")
        with pytest.raises(ToolError, match=f"SMTP server 127.0.0.1:{port} did not answer within 1 s"):
            mail.call("email_send_message", account="alice", to=["bob@example.test"], subject="x", body="x")
        assert time.monotonic() - started < 6


def test_a_server_that_stops_answering_mid_session_times_out(mail_server: MailServer) -> None:
    uid = append(mail_server, "alice", b"Subject: hang\r\n\r\nx\r\n")
    with CuttingProxy(mail_server.imap_port, b"FETCH", cuts=None, hang=True) as proxy:
        mail = Mail(mail_server, alice=config(mail_server, "alice", imap_port=proxy.port, timeout_seconds=1))
        started = time.monotonic()
        with pytest.raises(ToolError, match=rf"IMAP server 127.0.0.1:{proxy.port} stopped answering while reading UID {uid}"):  # fmt: skip
            mail.call("email_read_message", account="alice", uid=uid)
        assert time.monotonic() - started < 4
    assert proxy.cut == 1  # a timeout is not retried: the server is there but slow, retrying doubles the wait


def test_a_read_cut_mid_command_is_retried_once(mail_server: MailServer) -> None:
    uid = append(mail_server, "alice", f"Subject: cut {token()}\r\n\r\nStill here.\r\n".encode())
    with CuttingProxy(mail_server.imap_port, b"FETCH", cuts=1) as proxy:
        mail = Mail(mail_server, alice=config(mail_server, "alice", imap_port=proxy.port))
        message = mail.call("email_read_message", account="alice", uid=uid)
    assert message["body"].strip() == "Still here."
    assert (proxy.cut, proxy.connections) == (1, 2)


def test_a_read_that_keeps_being_cut_fails_clearly(mail_server: MailServer) -> None:
    uid = append(mail_server, "alice", b"Subject: cut again\r\n\r\nx\r\n")
    with CuttingProxy(mail_server.imap_port, b"FETCH", cuts=None) as proxy:
        mail = Mail(mail_server, alice=config(mail_server, "alice", imap_port=proxy.port))
        with pytest.raises(ToolError, match=f"dropped the connection while reading UID {uid} in 'INBOX'.*nothing was changed, try again"):  # fmt: skip
            mail.call("email_read_message", account="alice", uid=uid)
    assert proxy.cut == 2


def test_a_move_cut_mid_command_is_not_repeated_and_loses_nothing(mail_server: MailServer) -> None:
    tag = token()
    uid = append(mail_server, "alice", f"Subject: move {tag}\r\n\r\nx\r\n".encode())
    with CuttingProxy(mail_server.imap_port, b"MOVE", cuts=None) as proxy:
        mail = Mail(mail_server, alice=config(mail_server, "alice", imap_port=proxy.port))
        with pytest.raises(
            ToolError, match=r"dropped the connection while moving .*check the folder before repeating it"
        ):
            mail.call(
                "email_move_messages",
                account="alice",
                source_folder="INBOX",
                target_folder="Archive",
                uids=[uid],
            )
    assert proxy.cut == 1
    with imap_for(mail_server, "alice") as client:
        counts = {}
        for folder in ("INBOX", "Archive"):
            client.select_folder(folder, readonly=True)
            counts[folder] = len(client.search(["SUBJECT", tag]))
    assert counts == {"INBOX": 1, "Archive": 0}


def test_a_send_cut_during_data_then_repeated_with_its_key_arrives_once(mail_server: MailServer) -> None:
    tag = token()
    arguments = {"account": "alice", "to": ["bob@example.test"], "subject": f"cut send {tag}", "body": "x"}
    with CuttingProxy(mail_server.smtp_port, b"DATA", cuts=1) as proxy:
        mail = Mail(mail_server, alice=config(mail_server, "alice", smtp_port=proxy.port))
        with pytest.raises(ToolError, match=r"dropped the connection.*not confirmed as sent. Repeating this call checks the Sent folder first"):  # fmt: skip
            mail.call("email_send_message", key=f"run-{tag}:1", **arguments)
        first = mail.call("email_send_message", key=f"run-{tag}:1", **arguments)
        again = mail.call("email_send_message", key=f"run-{tag}:1", **arguments)
    assert (first["status"], again["status"]) == ("sent", "already_sent")

    def delivered() -> list[int]:
        with imap_for(mail_server, "bob") as client:
            client.select_folder("INBOX", readonly=True)
            return list(client.search(["SUBJECT", tag]))

    assert len(wait_for(delivered)) == 1
    time.sleep(0.5)
    assert len(delivered()) == 1


def test_a_draft_whose_answer_was_lost_is_saved_once_when_the_call_has_a_key(mail_server: MailServer) -> None:
    tag = token()
    # The server stores the draft, then the connection breaks before its OK reaches the client.
    with CuttingProxy(mail_server.imap_port, b"APPENDUID", cuts=1, reply=True) as proxy:
        mail = Mail(mail_server, alice=config(mail_server, "alice", imap_port=proxy.port))
        result = mail.call(
            "email_save_draft", key=f"run-{tag}:1", account="alice", subject=f"d {tag}", body="x"
        )
    assert proxy.cut == 1 and result["status"] == "already_saved"
    with imap_for(mail_server, "alice") as client:
        client.select_folder("Drafts", readonly=True)
        assert len(client.search(["SUBJECT", tag])) == 1
    # Without a key there is no way to tell, so the call fails instead of risking a second copy.
    with CuttingProxy(mail_server.imap_port, b"APPENDUID", cuts=1, reply=True) as proxy:
        mail = Mail(mail_server, alice=config(mail_server, "alice", imap_port=proxy.port))
        with pytest.raises(ToolError, match="dropped the connection while saving a draft"):
            mail.call("email_save_draft", account="alice", subject=f"e {tag}", body="x")
