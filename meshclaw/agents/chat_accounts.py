"""Which chat a template's agent talks through: a Slack or a Matrix account, named by the setting
`slack_account` or `matrix_account` (exactly one). The connectors differ in names only: the tool that
tells the account's owner something (`<connector>_notify_owner`, no destination argument), the field an
event names its author by (Slack `user`, Matrix `sender`), where a message is (Slack `channel` + `ts`,
Matrix `room` + `event_id`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from meshclaw.errors import InvalidInputError

Chat = Literal["slack", "matrix"]
SETTINGS: dict[Chat, str] = {"slack": "slack_account", "matrix": "matrix_account"}


@dataclass(frozen=True, kw_only=True)
class ChatAccount:
    connector: Chat
    name: str

    @property
    def setting(self) -> str:
        return SETTINGS[self.connector]

    @property
    def notify_owner(self) -> str:
        return f"{self.connector}_notify_owner"

    @property
    def post(self) -> str:
        """The tool that posts in a channel or room (`communicate_external`)."""
        return f"{self.connector}_post_message"

    @property
    def author(self) -> str:
        """The event field naming who wrote a message."""
        return "user" if self.connector == "slack" else "sender"

    @property
    def place(self) -> str:
        """The event field naming the channel or room."""
        return "channel" if self.connector == "slack" else "room"

    @property
    def message(self) -> str:
        """The event field naming the message itself."""
        return "ts" if self.connector == "slack" else "event_id"

    @property
    def title(self) -> str:
        return "Slack" if self.connector == "slack" else "Matrix"


def chosen(values: Mapping[str, Any], *, label: str = "") -> ChatAccount:
    """The chat account the values name: exactly one of `slack_account` and `matrix_account`."""
    named = [(connector, str(values.get(key) or "").strip()) for connector, key in SETTINGS.items()]
    filled = [(connector, name) for connector, name in named if name]
    if len(filled) != 1:
        what = f"{label} needs" if label else "needs"
        raise InvalidInputError(
            f"{what} 'Slack account' or 'Matrix account' (exactly one): the chat it talks through",
            field="settings.slack_account",
        )
    connector, name = filled[0]
    return ChatAccount(connector=connector, name=name)


def in_settings(settings: Mapping[str, Any]) -> ChatAccount | None:
    """The chat account an agent's settings name, or None (a spec written by hand may name neither)."""
    try:
        return chosen(settings)
    except InvalidInputError:
        return None
