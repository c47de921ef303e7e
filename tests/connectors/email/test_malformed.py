"""Inbound mail is written by outsiders and is often broken: reading it through email_read_message gives the
text that can be read, lists attachments with their sizes, cuts long bodies, and says what it did."""

from __future__ import annotations

import base64
import random

import pytest

from meshclaw.connectors.email import mime
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


# Headers on which the stdlib's own parsers raise (found by mutating well-formed messages): an address cut
# short, a group with no name, an encoded word without its "=?", a Message-ID with a stray "[", a charset
# with a NUL in its name. Each was an exception out of reading the message, and the email watch, which
# reads the sender and Message-ID of each new message, retried the same message forever.
BROKEN = [
    b"From: Eve <eve@\r\nMessage-ID: <a@b>\r\n\r\nx\r\n",
    b'From: "Eve" <eve@outside.example>, :\r\n\r\nx\r\n',
    b"From: .?utf-8?q?J=C3=BCrgen?= <j@outside.example>\r\n\r\nx\r\n",
    b"From: e@outside.example\r\nMessage-ID: <a@[>\r\n\r\nx\r\n",
    b'From: e@outside.example\r\nContent-Type: text/plain; charset="bo\x00gus"\r\n\r\nx\r\n',
]


@pytest.mark.parametrize("raw", BROKEN)
def test_headers_the_stdlib_cannot_parse_are_read_as_sent(raw: bytes) -> None:
    message = mime.parse(raw)
    assert isinstance(mime.sender(message), str)
    assert mime.header(message, "Message-ID") in ("", "<a@b>", "<a@[>")
    summary = mime.summary(1, raw, (), len(raw))
    assert summary["from"] and summary["uid"] == 1
    read = mime.read(raw, size=len(raw), max_chars=1000)
    assert read["from"] == summary["from"]


def test_a_sender_is_found_where_the_address_parser_gave_up() -> None:
    message = mime.parse(b'From: "Eve" <eve@outside.example>, :\r\n\r\nx\r\n')
    assert mime.sender(message) == "eve@outside.example"


def test_a_nul_in_a_charset_name_reads_the_part_as_utf8_with_a_note() -> None:
    read = mime.read(BROKEN[-1], size=len(BROKEN[-1]), max_chars=1000)
    assert read["body"].strip() == "x"
    assert any("unknown charset 'bo\\x00gus'" in note for note in read["notes"])


def test_mutated_messages_never_fail_a_read() -> None:
    # Deterministic: the same 3,000 mutations of two well-formed messages every run.
    seeds = [
        _headers("=?utf-8?q?caf=C3=A9?=", 'multipart/mixed; boundary="XX"').encode()
        + b"\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b'aGVsbG8=\r\n--XX\r\nContent-Type: application/pdf; name="a.pdf"\r\n'
        b"Content-Disposition: attachment; filename*=utf-8''%E2%82%AC.pdf\r\n\r\nJVBERi0=\r\n--XX--\r\n",
        b'From: "Eve" <eve@outside.example>, bob@x\r\nDate: Mon, 32 Foo 2026 99:99:99 +9999\r\n'
        b'Message-ID: <<<>>>\r\nContent-Type: text/html; charset="bogus"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n<p>Hi=\r\n=ZZ</p><script>x</script>\r\n",
    ]
    pieces = [b"=?", b"?=", b"=?utf-8?b?", b"\r\n", b"\r\n\r\n", b":", b"<", b">", b";", b'"', b"\\", b"\x00",
              b"\xff", b"--XX", b"boundary=", b"charset=", b"'", b"%", b" ", b"(", b")", b",", b"@", b"["]  # fmt: skip
    rng = random.Random(20261203)
    for _ in range(3000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data) + 1)
            choice = rng.random()
            if choice < 0.4:
                data[at:at] = rng.choice(pieces)
            elif choice < 0.7:
                del data[at : at + rng.randint(1, 20)]
            elif data:
                data[at % len(data)] = rng.randrange(256)
        raw = bytes(data)
        message = mime.parse(raw)
        assert isinstance(mime.sender(message), str) and isinstance(mime.header(message, "Message-ID"), str)
        assert mime.summary(1, raw, (), len(raw))["uid"] == 1
        assert isinstance(mime.read(raw, size=len(raw), max_chars=500)["body"], str)
