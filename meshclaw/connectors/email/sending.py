"""Sending exactly once, and the messages tools build.

The Message-ID of what a call sends comes from the call's idempotency key, and before sending, the Sent
folder is searched for it: a repeat of a call that got as far as the Sent copy returns the first result
instead of sending again. The window left (the server took the message, the Sent copy was not yet written)
is as small as one APPEND; docs/connectors/email.md says what happens in it.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from meshclaw.connectors.email import imap, mime, smtp
from meshclaw.connectors.email.config import EmailConfig
from meshclaw.tools.idempotency import current_key
from meshclaw.tools.registry import ToolError


def build(
    config: EmailConfig,
    *,
    to: Sequence[str],
    cc: Sequence[str],
    bcc: Sequence[str],
    subject: str,
    body: str,
    message_id: str,
    in_reply_to: str | None = None,
    references: str | None = None,
    keep_bcc: bool = False,
) -> EmailMessage:
    try:
        return mime.build(
            sender_address=config.address, display_name=config.display_name, to=list(to), cc=list(cc),
            bcc=list(bcc), subject=subject, body=body, message_id=message_id, in_reply_to=in_reply_to,
            references=references, keep_bcc=keep_bcc,
        )  # fmt: skip
    except (ValueError, TypeError) as error:
        raise ToolError(f"cannot build the message: {error}") from error


async def send_once(
    config: EmailConfig,
    *,
    to: Sequence[str],
    cc: Sequence[str],
    bcc: Sequence[str],
    subject: str,
    body: str,
    in_reply_to: str | None = None,
    references: str | None = None,
    automated: bool = False,
) -> dict[str, Any]:
    """`automated`: the message says so (`Auto-Submitted: auto-generated`, RFC 3834), so rules (and vacation
    responders) that read it do not answer it."""
    key = current_key()
    message_id = mime.message_id_for(key, config.address)
    sent_folder = config.sent_folder
    if key is not None:

        def already(client: Any) -> list[int]:
            return imap.find_message_id(client, sent_folder, message_id)

        # A check that cannot be made stops the send: better a clear error than a second copy.
        earlier = await imap.run(
            config, already, what=f"checking '{sent_folder}' for an earlier send", retry=True
        )
        if earlier:
            return {"status": "already_sent", "message_id": message_id, "sent_folder_uid": earlier[0]}
    message = build(
        config, to=to, cc=cc, bcc=bcc, subject=subject, body=body, message_id=message_id,
        in_reply_to=in_reply_to, references=references,
    )  # fmt: skip
    if automated:
        message["Auto-Submitted"] = "auto-generated"
    envelope = [*_bare(to), *_bare(cc), *_bare(bcc)]
    refused = await smtp.send(config, message, envelope)
    result: dict[str, Any] = {"status": "sent", "message_id": message_id, "subject": subject}
    if refused:
        result["refused"] = refused
    if not config.append_to_sent:
        return result  # the provider files its own copy, where the check above finds it
    data = bytes(message)

    def record(client: Any) -> int | None:
        return imap.append(client, sent_folder, data, flags=["\\Seen"])

    try:
        result["sent_folder_uid"] = await imap.run(
            config, record, what=f"saving to '{sent_folder}'", retry=False
        )
    except ToolError as error:
        # The message went out: failing the call now would invite a second send.
        result["note"] = f"sent, but no copy was saved in '{sent_folder}': {error}"
    return result


def _bare(addresses: Sequence[str]) -> list[str]:
    return [address for _, address in getaddresses(list(addresses))]
