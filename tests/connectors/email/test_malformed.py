"""Inbound mail is written by outsiders and is often broken: reading it through email_read_message gives the
text that can be read, lists attachments with their sizes, cuts long bodies, and says what it did."""

from __future__ import annotations

import base64

from tests.connectors.email.conftest import Mail, append, config, token
from tests.servers.mail import MailServer


def _headers(subject: str, content_type: str, extra: str = "") -> str:
    return (
        f"From: mallory@outside.example\r\nTo: alice@example.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <{token()}@outside.example>\r\nMIME-Version: 1.0\r\nContent-Type: {content_type}\r\n{extra}"
    )


def _read(mail: Mail, raw: bytes) -> dict:
    uid = append(mail.server, "alice", raw)
    return mail.call("email_read_message", account="alice", uid=uid)


def test_unknown_charset_is_read_as_utf8_with_a_note(mail: Mail) -> None:
    raw = (_headers("charset", "text/plain; charset=x-klingon") + "\r\nqapla' ✓\r\n").encode()
    message = _read(mail, raw)
    assert message["body"].strip() == "qapla' ✓"
    assert any("unknown charset 'x-klingon'" in note for note in message["notes"])


def test_bytes_invalid_in_their_charset_become_replacement_characters(mail: Mail) -> None:
    raw = _headers("bad utf8", "text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit\r\n").encode()
    message = _read(mail, raw + b"\r\nok \xff\xfe then more\r\n")
    assert message["body"].strip() == "ok \ufffd\ufffd then more"
    assert any("not valid utf-8" in note for note in message["notes"])


def test_broken_base64_and_broken_encoded_words_do_not_fail_the_read(mail: Mail) -> None:
    raw = (
        _headers("=?utf-8?b?!!notbase64?= =?x-unknown?q?caf=E9?= plain", "text/plain; charset=utf-8",
                 "Content-Transfer-Encoding: base64\r\n")
        + "\r\nSGVsbG8gd29ybGQ*!!\r\n"
    ).encode()  # fmt: skip
    message = _read(mail, raw)
    assert "plain" in message["subject"]
    assert message["body"].startswith("Hello wor")
    assert any("malformed" in note for note in message["notes"])


def test_nested_multiparts_give_the_plain_text_and_list_attachments(mail: Mail) -> None:
    pdf = base64.b64encode(b"%PDF-1.4 " + b"x" * 3000).decode()
    raw = (
        _headers("nested", 'multipart/mixed; boundary="outer"') + "\r\n"
        "--outer\r\nContent-Type: multipart/related; boundary=\"rel\"\r\n\r\n"
        "--rel\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
        "--alt\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        "Caf=E9 at noon.\r\n"
        "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Café at <b>noon</b>.</p>\r\n"
        "--alt--\r\n"
        "--rel\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
        "--rel--\r\n"
        "--outer\r\nContent-Type: application/pdf; name=\"=?utf-8?q?Rechnung_M=C3=A4rz.pdf?=\"\r\n"
        "Content-Disposition: attachment; filename*=utf-8''Rechnung%20M%C3%A4rz.pdf\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n"
        "--outer\r\nContent-Type: message/rfc822\r\n\r\n"
        "From: x@y.example\r\nSubject: forwarded\r\nContent-Type: text/plain\r\n\r\nInner text.\r\n"
        "--outer--\r\n"
    ).encode()  # fmt: skip
    message = _read(mail, raw)
    assert message["body"].split("\n\n")[0].strip() == "Café at noon."
    assert "Inner text." in message["body"]
    attachments = {item["content_type"]: item for item in message["attachments"]}
    assert attachments["application/pdf"] == {
        "filename": "Rechnung März.pdf",
        "content_type": "application/pdf",
        "size": 3009,
    }
    assert attachments["image/png"]["size"] == 8
    assert message["notes"] == []


def test_html_only_body_is_converted_to_text(mail: Mail) -> None:
    raw = (_headers("html", "text/html; charset=utf-8") + "\r\n<html><style>p{}</style><p>One &amp; two</p><script>x()</script><p>three</p></html>\r\n").encode()  # fmt: skip
    message = _read(mail, raw)
    assert message["body"] == "One & two\nthree"
    assert any("only an HTML body" in note for note in message["notes"])


def test_a_huge_attachment_is_listed_not_returned_and_a_long_body_is_cut(mail_server: MailServer) -> None:
    mail = Mail(mail_server, alice=config(mail_server, "alice", max_body_chars=1000))
    big = base64.encodebytes(b"\0" * 8_000_000).decode().replace("\n", "\r\n")
    raw = (
        _headers("huge", 'multipart/mixed; boundary="b"') + "\r\n"
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + "long line of text. " * 500 + "\r\n"
        "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=dump.bin\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{big}--b--\r\n"
    ).encode()  # fmt: skip
    message = _read(mail, raw)
    assert len(message["body"]) == 1000 and message["body_truncated"] is True
    assert "the body is 9500 characters; only the first 1000 are shown" in message["notes"][0]
    assert message["attachments"] == [{"filename": "dump.bin", "content_type": "application/octet-stream", "size": 8_000_000}]  # fmt: skip
    assert len(str(message)) < 5000


def test_a_message_past_max_fetch_bytes_is_read_only_up_to_it(mail_server: MailServer) -> None:
    mail = Mail(mail_server, alice=config(mail_server, "alice", max_fetch_bytes=20_000))
    big = base64.encodebytes(b"\1" * 200_000).decode().replace("\n", "\r\n")
    raw = (
        _headers("partial", 'multipart/mixed; boundary="b"') + "\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nThe text comes first.\r\n"
        "--b\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=a.zip\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{big}"
        "--b\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=b.zip\r\n\r\nzz\r\n--b--\r\n"
    ).encode()  # fmt: skip
    message = _read(mail, raw)
    assert message["body"].strip() == "The text comes first."
    assert [item["filename"] for item in message["attachments"]] == ["a.zip"]
    assert any(
        f"the message is {len(raw)} bytes; only its first 20000 were read" in note
        for note in message["notes"]
    )
