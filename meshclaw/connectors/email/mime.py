"""Reading and building messages with the stdlib `email` package.

Inbound mail is written by outsiders and is often broken: unknown charsets, bad base64, headers with stray
encoded words, deeply nested multiparts. Reading never raises on such input: what cannot be decoded is
decoded with replacement characters and a note says so, attachments are listed (name, type, size) but
never returned, and the body is cut at the account's limit with a note giving the full length.
"""

from __future__ import annotations

import hashlib
import html
import re
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any

_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")
_REPLY_PREFIX = re.compile(r"^\s*re\s*:", re.IGNORECASE)


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # policy.default builds EmailMessage
    return message


def header(message: Message, name: str) -> str:
    """A header's decoded text ('' when absent); RFC 2047 words decoded, broken ones kept as they are."""
    try:
        value = message.get(name)
    except Exception:
        return _raw_header(message, name)
    return "" if value is None else " ".join(str(value).split())


def _raw_header(message: Message, name: str) -> str:
    """A header policy.default's parser failed on (an encoded word in an unknown charset, an address cut
    short), as sent, with the encoded words that can be decoded decoded. `get` and `get_all` both parse;
    `raw_items` does not."""
    raw = next((str(value) for key, value in message.raw_items() if key.lower() == name.lower()), "")
    try:
        return " ".join(str(make_header(decode_header(raw))).split())
    except Exception:
        return " ".join(raw.split())


# An address as it appears in a header the address parser gave up on.
_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"@]+@[^\s<>()\[\],;:\"@]+")


def addresses(message: Message, name: str) -> list[str]:
    """The bare addresses in an address header (`ana@example.org`), lower-cased domain kept as sent."""
    values = [header(message, name)]
    try:
        return [address for _, address in getaddresses(values) if "@" in address]
    except Exception:  # the stdlib's parser raises on some broken headers; what looks like one is kept
        return _ADDRESS.findall(values[0])


def sender(message: Message) -> str:
    found = addresses(message, "From")
    return found[0] if found else ""


def summary(uid: int, raw_headers: bytes, flags: tuple[str, ...], size: int) -> dict[str, Any]:
    message = parse(raw_headers)
    return {
        "uid": uid,
        "message_id": header(message, "Message-ID"),
        "date": header(message, "Date"),
        "from": header(message, "From"),
        "to": header(message, "To"),
        "subject": header(message, "Subject"),
        "flags": list(flags),
        "size": size,
    }


def read(raw: bytes, *, size: int, max_chars: int) -> dict[str, Any]:
    """A message for a model: headers, its text, its attachments listed, notes about what was cut or
    could not be decoded."""
    message = parse(raw)
    notes: list[str] = []
    if len(raw) < size:
        notes.append(
            f"the message is {size} bytes; only its first {len(raw)} were read, "
            "so attachments after that point are missing from the list"
        )
    plain: list[str] = []
    html_parts: list[str] = []
    attachments: list[dict[str, Any]] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        try:
            content_type = part.get_content_type()
            filename = _filename(part)
            is_text = (
                content_type in ("text/plain", "text/html") and part.get_content_disposition() != "attachment"
            )
            if not is_text or filename:
                attachments.append({"filename": filename, "content_type": content_type, "size": _size(part)})
                continue
            text = _text(part, notes)
        except Exception as error:  # the stdlib's parsers raise on some broken parts; the rest is read
            notes.append(f"a part of the message could not be read ({type(error).__name__}); it is left out")
            continue
        (plain if content_type == "text/plain" else html_parts).append(text)
    if plain:
        body = "\n\n".join(plain)
    else:
        body = "\n\n".join(_html_to_text(text) for text in html_parts)
        if html_parts:
            notes.append("the message has only an HTML body; it was converted to plain text")
    if message.defects:
        kinds = sorted({type(defect).__name__ for defect in message.defects})
        notes.append(f"the message is malformed ({', '.join(kinds)}); what could be read is shown")
    total = len(body)
    if total > max_chars:
        body = body[:max_chars]
        notes.append(f"the body is {total} characters; only the first {max_chars} are shown")
    return {
        "message_id": header(message, "Message-ID"),
        "date": header(message, "Date"),
        "from": header(message, "From"),
        "sender": sender(message),
        "to": header(message, "To"),
        "cc": header(message, "Cc"),
        "subject": header(message, "Subject"),
        "in_reply_to": header(message, "In-Reply-To"),
        "references": header(message, "References"),
        # What sorting rules read before any model does (RFC 2369, 2919, 3834; SpamAssassin's flag).
        "list_unsubscribe": header(message, "List-Unsubscribe"),
        "list_id": header(message, "List-Id"),
        "precedence": header(message, "Precedence"),
        "auto_submitted": header(message, "Auto-Submitted"),
        "spam_flag": header(message, "X-Spam-Flag"),
        "body": body,
        "body_truncated": total > max_chars,
        "attachments": attachments,
        "notes": notes,
    }


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return "(undecodable name)"
    return " ".join(str(name).split()) if name else None


def _size(part: Message) -> int:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if isinstance(payload, bytes):
        return len(payload)
    return len(str(part.get_payload()))


def _text(part: Message, notes: list[str]) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else str(part.get_payload()).encode("utf-8", "replace")
    charset = part.get_content_charset() or "us-ascii"
    try:
        text = data.decode(charset)
    except UnicodeDecodeError:
        notes.append(f"a text part is not valid {charset}; undecodable bytes are shown as \ufffd")
        text = data.decode(charset, errors="replace")
    except (LookupError, ValueError):  # ValueError: a name no codec can have ("utf\x008")
        notes.append(f"a text part declares the unknown charset {charset!r}; it was read as UTF-8")
        text = data.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n")


def _html_to_text(markup: str) -> str:
    text = _TAGS.sub(" ", re.sub(r"<\s*(br|/p|/div|/li|/tr)\b[^>]*>", "\n", markup, flags=re.IGNORECASE))
    lines = "\n".join(" ".join(line.split()) for line in html.unescape(text).splitlines())
    return _BLANK_LINES.sub("\n\n", lines).strip()


# --- building ---------------------------------------------------------------------------------------


def domain_of(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"


def message_id_for(key: str | None, address: str) -> str:
    """The Message-ID of a message sent by a call: derived from its idempotency key when there is one, so
    a repeat of the call builds the same id and can find the first send in the Sent folder."""
    domain = domain_of(address)
    if key is None:
        return make_msgid(domain=domain)
    return f"<meshclaw.{hashlib.sha256(key.encode()).hexdigest()[:40]}@{domain}>"


def build(
    *,
    sender_address: str,
    display_name: str | None,
    to: list[str],
    cc: list[str],
    bcc: list[str],
    subject: str,
    body: str,
    message_id: str,
    in_reply_to: str | None = None,
    references: str | None = None,
    keep_bcc: bool = False,
) -> EmailMessage:
    """A text/plain message. Bcc stays out of the headers of what is sent (it is in the envelope only),
    but a draft keeps it (`keep_bcc`) so whoever sends the draft sees it."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = f"{display_name} <{sender_address}>" if display_name else sender_address
    if to:
        message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    if bcc and keep_bcc:
        message["Bcc"] = ", ".join(bcc)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    message.set_content(body)
    return message


def reply_fields(original: Message) -> dict[str, str | None]:
    """Subject ('Re: ' once), In-Reply-To and References for a reply to `original` (RFC 5322 3.6.4)."""
    subject = header(original, "Subject")
    if not _REPLY_PREFIX.match(subject):
        subject = f"Re: {subject}".rstrip()
    message_id = header(original, "Message-ID") or None
    earlier = header(original, "References") or header(original, "In-Reply-To")
    references = " ".join(part for part in (earlier, message_id) if part) or None
    return {"subject": subject, "in_reply_to": message_id, "references": references}
