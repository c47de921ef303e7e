"""The email connector as the platform sees it."""

from __future__ import annotations

from typing import Any

from meshclaw.connectors.contract import Account, Connector, EventSourceSpec
from meshclaw.connectors.email import imap
from meshclaw.connectors.email.config import EmailConfig
from meshclaw.connectors.email.events import EVENT, watch
from meshclaw.connectors.email.tools import tools

CHECK_TIMEOUT_S = 8.0


async def check(account: Account[Any]) -> str:
    """Logs in over IMAP and counts the INBOX (SMTP is proven by the first send)."""
    # A short socket timeout: the platform gives a check 20 s, and a hung server should be named as such.
    config: EmailConfig = account.config.model_copy(
        update={"timeout_seconds": min(account.config.timeout_seconds, CHECK_TIMEOUT_S)}
    )
    messages, unseen = await imap.run(
        config, lambda client: imap.message_count(client, "INBOX"), what="counting INBOX", retry=True
    )
    return f"INBOX has {messages} messages ({unseen} unseen)"


def connector() -> Connector:
    return Connector(
        name="email",
        title="Email (IMAP and SMTP)",
        config=EmailConfig,
        tools=tools,
        check=check,
        events=(
            EventSourceSpec(
                name="imap_idle",
                emits=(EVENT,),
                run=watch,
                enabled=lambda config: bool(config.watch_folders),
            ),
        ),
    )
