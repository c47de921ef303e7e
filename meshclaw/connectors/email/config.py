"""One mailbox: where its IMAP and SMTP servers are, how to log in, and the limits the tools keep."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from meshclaw.connectors.contract import AccountConfig

Security = Literal["tls", "starttls", "plain"]
"""`tls`: TLS from the first byte (IMAPS 993, SMTPS 465); `starttls`: upgrade a plain connection before
logging in (IMAP 143, submission 587); `plain`: no encryption, for local test servers only."""


class EmailConfig(AccountConfig):
    address: str = Field(description="The mailbox's address, used as From: `ana@example.org`.")
    display_name: str | None = Field(default=None, description="Shown with the address in From.")
    username: str = Field(description="The login for IMAP and SMTP (often the address).")
    password: SecretStr = Field(description="The password or app password: `vault:NAME` in stored accounts.")
    imap_host: str
    imap_port: int = 993
    imap_security: Security = "tls"
    smtp_host: str
    smtp_port: int = 465
    smtp_security: Security = "tls"
    ca_file: str | None = Field(
        default=None,
        description="A PEM file of CA certificates to trust instead of the system's (self-signed).",
    )
    sent_folder: str = Field(
        default="Sent", description="Where sent mail is kept, and searched for an earlier send of a call."
    )
    append_to_sent: bool = Field(
        default=True,
        description="APPEND a copy of what is sent to sent_folder; false for providers that file their own "
        "(Gmail: sent_folder '[Gmail]/Sent Mail'), which would otherwise hold two.",
    )
    archive_folder: str = Field(default="Archive", description="Where email_archive_message moves messages.")
    watch_folders: tuple[str, ...] = Field(
        default=("INBOX",), description="Folders whose new messages emit `email.received`."
    )
    use_idle: bool = Field(
        default=True, description="Wait for new mail with IDLE when the server offers it; False polls."
    )
    idle_seconds: float = Field(
        default=300,
        gt=0,
        description="How long one IDLE (or one poll interval) waits before checking the folder.",
    )
    timeout_seconds: float = Field(default=30, gt=0, description="Limit on every network operation.")
    max_body_chars: int = Field(default=20_000, gt=0, description="Longer bodies are cut, with a note.")
    max_fetch_bytes: int = Field(
        default=25_000_000, gt=0, description="Messages larger than this are read only up to it."
    )
