"""Inbox triage's deterministic half: the settings as typed values, and the rules that sort an email by
who sent it and by its headers before any model reads it. Pure functions of an `email_read_message`
result, so they are tested without a server and cost nothing per email."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from meshclaw.agents.chat_accounts import ChatAccount, in_settings

Label = Literal["urgent", "needs_reply", "fyi", "newsletter", "spam"]
LABELS: tuple[Label, ...] = ("urgent", "needs_reply", "fyi", "newsletter", "spam")
KEYWORDS: dict[Label, str] = {
    "urgent": "$Urgent",
    "needs_reply": "$NeedsReply",
    "fyi": "$FYI",
    "newsletter": "$Newsletter",
    "spam": "$Spam",
}
"""The IMAP keyword (what mail clients show as a tag) each label sets on the message."""
TRIAGED = "$Triaged"
"""Set on every email the playbook sorted: the next run looks only at mail without it."""
DRAFTED = "$Drafted"
"""Set on an email the playbook drafted a reply to, with `$Draft_<hash of the draft's text>`: a later run
finds the reply in Sent and tells whether it went out as drafted."""
DRAFT_RESOLVED = "$DraftResolved"
"""Set once a later run saw the draft sent or discarded, so each draft is reported once."""
DEFAULT_FOLDERS: dict[Label, str] = {
    "urgent": "",
    "needs_reply": "",
    "fyi": "",
    "newsletter": "Newsletters",
    "spam": "Junk",
}
"""Where each label's mail goes; '' keeps it in the INBOX (tagged, and flagged when urgent)."""
DEFAULT_MINUTES_PER_EMAIL = 0.5
"""What sorting one email by hand costs a person: open, read the start, decide, file."""
DEFAULT_MINUTES_PER_DRAFT = 3.0
"""What writing the first draft of a short reply costs a person."""


@dataclass(frozen=True, kw_only=True)
class TriageSettings:
    account: str
    vip_senders: tuple[str, ...] = ()
    newsletter_senders: tuple[str, ...] = ()
    spam_senders: tuple[str, ...] = ()
    folders: Mapping[Label, str]
    draft_replies: bool = True
    drafts_folder: str = "Drafts"
    minutes_per_email: float = DEFAULT_MINUTES_PER_EMAIL
    minutes_per_draft: float = DEFAULT_MINUTES_PER_DRAFT
    digest: bool = True
    digest_chat: ChatAccount | None = None
    """Where the digest goes instead of the inbox: the owner's DM on this Slack or Matrix account."""
    max_emails: int = 50

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> TriageSettings:
        folders = {label: str(values.get(f"folder_{label}", DEFAULT_FOLDERS[label])) for label in LABELS}
        return cls(
            account=str(values["account"]),
            vip_senders=_senders(values.get("vip_senders")),
            newsletter_senders=_senders(values.get("newsletter_senders")),
            spam_senders=_senders(values.get("spam_senders")),
            folders=folders,
            draft_replies=_flag(values.get("draft_replies", True)),
            drafts_folder=str(values.get("drafts_folder", "Drafts")),
            minutes_per_email=float(values.get("minutes_per_email", DEFAULT_MINUTES_PER_EMAIL)),
            minutes_per_draft=float(values.get("minutes_per_draft", DEFAULT_MINUTES_PER_DRAFT)),
            digest=str(values.get("digest", "inbox")) != "none",
            digest_chat=in_settings(values) if str(values.get("digest", "inbox")) == "chat" else None,
            max_emails=int(values.get("max_emails", 50)),
        )


def _senders(value: Any) -> tuple[str, ...]:
    # A list in an agent file, a comma-separated string from the template's form.
    items = value if isinstance(value, list) else str(value or "").split(",")
    return tuple(item.strip().lower() for item in items if str(item).strip())


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


def listed(sender: str, entries: tuple[str, ...]) -> bool:
    """Whether `sender` is on a list of addresses (`boss@acme.example`) and domains (`@acme.example` or
    `acme.example`, which also covers its subdomains)."""
    address = sender.strip().lower()
    domain = address.rpartition("@")[2]
    for entry in entries:
        if "@" in entry and not entry.startswith("@"):
            if address == entry:
                return True
            continue
        bare = entry.lstrip("@")
        if domain == bare or domain.endswith("." + bare):
            return True
    return False


def by_rule(message: Mapping[str, Any], settings: TriageSettings) -> tuple[Label, str] | None:
    """The label the rules give, with the rule's name, or None when they cannot decide (then the model
    may, one email at a time). The thread rule needs the Sent folder and is asked separately."""
    sender = str(message.get("sender", ""))
    if listed(sender, settings.spam_senders):
        return "spam", "spam_senders"
    if str(message.get("spam_flag", "")).strip().lower().startswith("yes"):
        return "spam", "x-spam-flag"
    if listed(sender, settings.vip_senders):
        return "urgent", "vip_senders"
    if listed(sender, settings.newsletter_senders):
        return "newsletter", "newsletter_senders"
    if message.get("list_unsubscribe") or message.get("list_id"):
        return "newsletter", "list-headers"
    if str(message.get("precedence", "")).strip().lower() in ("bulk", "list", "junk"):
        return "newsletter", "precedence"
    auto = str(message.get("auto_submitted", "")).strip().lower()
    if auto and auto != "no":
        return "fyi", "auto-submitted"
    return None


def draft_keyword(body: str) -> str:
    """`$Draft_<12 hex>` of the text as a person would see it (line ends and trailing blanks aside)."""
    return "$Draft_" + hashlib.sha256(normalized(body).encode()).hexdigest()[:12]


def normalized(body: str) -> str:
    return "\n".join(line.rstrip() for line in body.strip().splitlines())
