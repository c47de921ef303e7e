"""The tools' arguments. Names follow the policy's conventions so the gate can judge a call: destinations
in `to`, `cc`, `bcc`; folders in `folder`, `source_folder`, `target_folder`."""

from __future__ import annotations

import re
from datetime import date
from email.utils import getaddresses
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _address(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("an address may not contain a line break")
    parsed = getaddresses([value])
    if len(parsed) != 1 or "@" not in parsed[0][1] or " " in parsed[0][1]:
        raise ValueError(f"'{value}' is not one email address")
    return value.strip()


def _one_line(value: str) -> str:
    # A line break in a value that reaches an IMAP command or a header ends it and starts another:
    # imapclient sends search text as it is, so "x\r\nA1 DELETE INBOX" would delete a folder.
    if "\r" in value or "\n" in value or "\0" in value:
        raise ValueError("may not contain a line break")
    return value


_KEYWORD = re.compile(r"^\$?[A-Za-z0-9_.-]{1,64}$")


def _keyword(value: str) -> str:
    # An IMAP keyword is an atom: no spaces, brackets, quotes or backslash (RFC 3501 section 9, flag-keyword).
    if not _KEYWORD.match(value):
        raise ValueError(
            f"'{value}' is not a keyword: letters, digits, '_', '.', '-', an optional leading '$'"
        )
    return value


Address = Annotated[str, AfterValidator(_address)]
Keyword = Annotated[str, AfterValidator(_keyword)]
"""A custom IMAP flag (`$Triaged`, `$label1`): what mail clients show as tags or labels."""
Line = Annotated[str, AfterValidator(_one_line)]
"""Any text that goes into an IMAP command (folder names, search text) or a header."""
Flag = Literal["seen", "flagged", "answered", "draft"]
FLAGS: dict[str, str] = {
    "seen": "\\Seen",
    "flagged": "\\Flagged",
    "answered": "\\Answered",
    "draft": "\\Draft",
}
ACCOUNT = Field(description="The email account to use, by name (e.g. 'work-mail').")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListFoldersArgs(Strict):
    account: str = ACCOUNT


class SearchArgs(Strict):
    account: str = ACCOUNT
    folder: Line = Field(default="INBOX", description="The folder to search, e.g. 'INBOX' or 'Archive'.")
    sender: Line | None = Field(default=None, description="Text in the From header (an address or a name).")
    subject: Line | None = Field(default=None, description="Text in the subject.")
    text: Line | None = Field(default=None, description="Text anywhere in the headers or body.")
    since: date | None = Field(default=None, description="Only messages received on or after this date.")
    before: date | None = Field(default=None, description="Only messages received before this date.")
    unseen_only: bool = Field(default=False, description="Only messages not yet read.")
    flagged_only: bool = Field(default=False, description="Only flagged messages.")
    keyword: Keyword | None = Field(default=None, description="Only messages with this keyword (tag).")
    without_keyword: Keyword | None = Field(default=None, description="Only messages without this keyword.")
    limit: int = Field(default=20, ge=1, le=200, description="At most this many, newest first.")


class ReadArgs(Strict):
    account: str = ACCOUNT
    folder: Line = Field(default="INBOX", description="The folder the message is in.")
    uid: int = Field(ge=1, description="The message's UID, from email_search_messages.")


class FlagArgs(Strict):
    account: str = ACCOUNT
    folder: Line = Field(default="INBOX", description="The folder the messages are in.")
    uids: list[int] = Field(min_length=1, max_length=500, description="The messages' UIDs.")
    add: list[Flag] = Field(default_factory=list, description="Flags to set.")
    remove: list[Flag] = Field(default_factory=list, description="Flags to clear.")
    add_keywords: list[Keyword] = Field(default_factory=list, description="Keywords (tags) to set.")
    remove_keywords: list[Keyword] = Field(default_factory=list, description="Keywords (tags) to clear.")


class MoveArgs(Strict):
    account: str = ACCOUNT
    source_folder: Line = Field(description="The folder the messages are in now.")
    target_folder: Line = Field(description="The folder to move them to (it must exist).")
    uids: list[int] = Field(min_length=1, max_length=500, description="The messages' UIDs in source_folder.")


class ArchiveArgs(Strict):
    account: str = ACCOUNT
    folder: Line = Field(default="INBOX", description="The folder the messages are in now.")
    uids: list[int] = Field(min_length=1, max_length=500, description="The messages' UIDs in folder.")


class DeleteArgs(Strict):
    account: str = ACCOUNT
    folder: Line = Field(description="The folder the messages are in.")
    uids: list[int] = Field(min_length=1, max_length=500, description="The messages' UIDs in folder.")


class DraftArgs(Strict):
    account: str = ACCOUNT
    to: list[Address] = Field(default_factory=list, description="Recipients' addresses.")
    cc: list[Address] = Field(default_factory=list, description="Copy recipients.")
    bcc: list[Address] = Field(default_factory=list, description="Blind copy recipients.")
    subject: Line = Field(default="", max_length=998, description="The subject.")
    body: str = Field(default="", description="Plain text.")
    folder: Line = Field(
        default="Drafts", description="The drafts folder (some servers name it otherwise: '[Gmail]/Drafts')."
    )
    in_reply_to: Line | None = Field(
        default=None,
        description="The Message-ID of the message this drafts a reply to: sets In-Reply-To and References, "
        "so the reply threads under it when it is sent.",
    )


class NotifyArgs(Strict):
    account: str = ACCOUNT
    subject: Line = Field(max_length=998, description="The subject.")
    body: str = Field(description="Plain text.")


class SendArgs(Strict):
    account: str = ACCOUNT
    to: list[Address] = Field(min_length=1, description="Recipients' addresses.")
    cc: list[Address] = Field(default_factory=list, description="Copy recipients.")
    bcc: list[Address] = Field(
        default_factory=list, description="Blind copy recipients (not shown to others)."
    )
    subject: Line = Field(max_length=998, description="The subject.")
    body: str = Field(description="Plain text.")


class ReplyArgs(Strict):
    account: str = ACCOUNT
    folder: Line = Field(default="INBOX", description="The folder the message replied to is in.")
    uid: int = Field(ge=1, description="The UID of the message replied to.")
    to: list[Address] = Field(
        min_length=1, description="Who gets the reply: usually the original sender (its `sender` field)."
    )
    cc: list[Address] = Field(default_factory=list, description="Copy recipients (for reply-all).")
    bcc: list[Address] = Field(default_factory=list, description="Blind copy recipients.")
    body: str = Field(description="Plain text of the reply.")
