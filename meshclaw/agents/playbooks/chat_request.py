"""A request made to a playbook in chat: the message that started the run (a DM to the bot, or a mention of
the bot in a channel or room), read back from the chat server and checked, and the ways to answer it.

The event's fields come from the run's input, which the message's text is part of (event_input.py voids a
line whose text imitates a field). The playbook still trusts nothing of the message but what the chat
server says when asked again: the text is read back by the message's id with a read tool (which taints
the run, as the text is an outsider's) and counts only when its author is the event's author. Answering:

- the owner is told in their DM (`<connector>_notify_owner`, `write_internal`: no approval);
- the request is marked with a reaction (`write_internal`, the agent's channels only): the requester sees
  it was taken, deployed, healthy or refused, without an approval;
- a reply in the request's thread (`slack_reply_thread`, `matrix_post_message`) is external communication
  from a run that read outsiders' text, so the policy gate holds it for the owner's approval (rule of two).

Slack and Matrix differ only in names (chat_accounts.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from meshclaw.agents.chat_accounts import ChatAccount
from meshclaw.agents.playbooks.contract import Refused, StepFailed
from meshclaw.agents.runtime.event_input import TriggerEvent

if TYPE_CHECKING:
    from meshclaw.agents.playbooks.steps import Steps

KINDS = {"chat.dm_received": "dm", "chat.mentioned": "mention"}
Mark = Literal["deployed", "healthy", "inconclusive", "regressed", "refused"]
MARKS: dict[str, dict[Mark, str]] = {
    "slack": {"deployed": "rocket", "healthy": "white_check_mark", "inconclusive": "grey_question",
              "regressed": "rotating_light", "refused": "no_entry"},
    "matrix": {"deployed": "🚀", "healthy": "✅", "inconclusive": "❔", "regressed": "🚨", "refused": "⛔"},
}  # fmt: skip
READ_LIMIT = 100
"""How far back a room's messages are searched for the request (Matrix; Slack mentions: 50)."""


@dataclass(frozen=True, kw_only=True)
class ChatRequest:
    chat: ChatAccount
    kind: Literal["dm", "mention"]
    author: str
    """Slack user id or Matrix user id of who wrote the message."""
    place: str
    """The channel (Slack id) or room (Matrix id) it was written in."""
    message: str
    """Its `ts` (Slack) or event id (Matrix)."""
    thread: str | None
    """The root of the thread it was written in, if any."""
    from_owner: bool

    @property
    def who(self) -> str:
        """The author as the chat shows a name: Slack's `<@U...>` mention, Matrix's user id."""
        return f"<@{self.author}>" if self.chat.connector == "slack" else self.author


def from_event(event: TriggerEvent | None, chat: ChatAccount) -> ChatRequest | None:
    """The request an event is, or None when it is no chat message to this agent's account."""
    if event is None or event.type not in KINDS or event.fields.get("account") != chat.name:
        return None
    fields = event.fields
    author, place, message = (
        fields.get(chat.author, ""),
        fields.get(chat.place, ""),
        fields.get(chat.message, ""),
    )
    if not (author and place and message):
        return None
    thread = fields.get("thread_ts" if chat.connector == "slack" else "thread") or None
    kind: Literal["dm", "mention"] = "dm" if KINDS[event.type] == "dm" else "mention"
    return ChatRequest(chat=chat, kind=kind, author=author, place=place, message=message, thread=thread,
                       from_owner=fields.get("from_owner") == "true")  # fmt: skip


async def read_text(steps: Steps, request: ChatRequest) -> str | None:
    """The message's text as the chat server has it, or None when it cannot be found written by the
    event's author where the event says."""
    chat = request.chat
    if chat.connector == "matrix":
        read = await steps.tool(
            "matrix_read_messages", account=chat.name, room=request.place, limit=READ_LIMIT
        )
        found = _by(read["messages"], "event_id", request.message)
        return _text(found, "sender", request.author)
    if request.kind == "dm":
        read = await steps.tool(
            "slack_read_direct_messages", account=chat.name, user=request.author, limit=20
        )
        messages = [message for conversation in read["conversations"] for message in conversation["messages"]]
        found = _by(messages, "ts", request.message)
        return None if found is None else str(found.get("text", ""))
    if request.thread is not None:  # a mention in a thread: the thread's replies hold it
        read = await steps.tool("slack_read_thread_replies", account=chat.name, channel=request.place,
                                thread_ts=request.thread, limit=200)  # fmt: skip
        return _text(_by(read["messages"], "ts", request.message), "user", request.author)
    read = await steps.tool("slack_read_bot_mentions", account=chat.name, channel=request.place, limit=50)
    return _text(_by(read["mentions"], "ts", request.message), "user", request.author)


def _by(messages: list[Mapping[str, Any]], key: str, value: str) -> Mapping[str, Any] | None:
    return next((message for message in messages if message.get(key) == value), None)


def _text(message: Mapping[str, Any] | None, author_key: str, author: str) -> str | None:
    if message is None or message.get(author_key) != author:
        return None
    return str(message.get("text", ""))


async def tell_owner(steps: Steps, chat: ChatAccount, text: str) -> None:
    """Tell the account's owner in their DM; a failure is in the run's steps and stops nothing."""
    with contextlib.suppress(Refused, StepFailed):
        await steps.tool(chat.notify_owner, account=chat.name, text=text)


async def mark(steps: Steps, request: ChatRequest, what: Mark) -> None:
    """React on a request made in a channel (in a DM the owner is told anyway); failures stop nothing."""
    if request.kind != "mention":
        return
    chat, emoji = request.chat, MARKS[request.chat.connector][what]
    with contextlib.suppress(Refused, StepFailed):
        if chat.connector == "slack":
            await steps.tool("slack_add_reaction", account=chat.name, channel=request.place,
                             timestamp=request.message, name=emoji)  # fmt: skip
        else:
            await steps.tool("matrix_add_reaction", account=chat.name, room=request.place,
                             event_id=request.message, reaction=emoji)  # fmt: skip


async def reply(steps: Steps, request: ChatRequest, text: str) -> str:
    """Answer a request made in a channel in its thread: the run waits for the owner's approval of this
    exact reply first. Says how it went: `posted`, or why not."""
    chat = request.chat
    try:
        if chat.connector == "slack":
            await steps.tool("slack_reply_thread", account=chat.name, channel=request.place,
                             thread_ts=request.thread or request.message, text=text)  # fmt: skip
        else:
            await steps.tool("matrix_post_message", account=chat.name, room=request.place, text=text,
                             reply_to=request.message, thread=request.thread)  # fmt: skip
    except Refused as refused:
        return f"not posted: {refused.reason}"
    except StepFailed as failed:
        return f"failed: {failed.message}"
    return "posted"
