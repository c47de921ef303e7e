"""Chat with your agent: a conversation is one person's chat runs of one agent, oldest first.

Each message starts an attended run (trigger `chat`) whose input carries the latest turns before it, so
the agent answers in context without a conversation store of its own: the runs already hold every message
(`trigger_detail.message`), every reply (`output`), their steps, tokens and cost, and the same history,
approvals and kill switch apply. The context is bounded (turns and characters) so a long conversation does
not make every new message dearer than the last.

The run also gets the same turns in parts (`Conversation`, stored with its input): an answer written apart
from outsiders' text takes only the new message as the person's request there, and a reply that may repeat
their text as theirs (`agents/runtime/clean_context.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.agents.runtime.contract import Conversation, EarlierTurn
from meshclaw.db.models import Run
from meshclaw.errors import InvalidInputError
from meshclaw.runs import store

MAX_MESSAGE_CHARS = 4000
CONTEXT_TURNS = 8
"""Earlier turns sent along with a new message."""
CONTEXT_CHARS = 12_000
"""At most this much earlier text; older turns are dropped first."""
SHOWN_TURNS = 50


@dataclass(frozen=True, kw_only=True)
class Turn:
    run_id: str
    message: str
    reply: str | None
    status: str
    error: str | None
    untrusted_sources: tuple[str, ...] = ()
    """Tools that brought content outsiders can write into the run: the reply may repeat it."""
    started_tainted: bool = False
    """The run began tainted: the turns its message carried (or the event that started it) held text
    outsiders wrote, which the reply may repeat as well."""

    @property
    def active(self) -> bool:
        return self.status in store.ACTIVE

    @property
    def tainted(self) -> bool:
        """The reply may repeat what outsiders wrote."""
        return bool(self.untrusted_sources) or self.started_tainted

    @property
    def taint_sources(self) -> tuple[str, ...]:
        """Where outsiders' text came from, as the page names it (as `store.trigger_taint` does)."""
        earlier = (store.EARLIER_REPLIES,) if self.started_tainted else ()
        return (*earlier, *self.untrusted_sources)


@dataclass(frozen=True, kw_only=True)
class ChatInput:
    text: str
    """The run's input: the recent turns as a transcript, then the new message."""
    untrusted: bool
    """A reply in the transcript was written after reading outsiders' text and may repeat it, so the run
    starts tainted (the policy gate's rule of two applies from its first step), as a run started by an
    inbound email does. Otherwise one tainted turn would launder its outsiders' words into the next,
    clean one, whose sends, deploys and deletions need no approval."""
    conversation: Conversation
    """The same turns and message in parts, with which replies may repeat outsiders' text."""


def clean_message(text: str) -> str:
    message = text.strip()
    if not message:
        raise InvalidInputError("write a message first", field="message")
    if len(message) > MAX_MESSAGE_CHARS:
        raise InvalidInputError(
            f"the message has {len(message):,} characters; the limit is {MAX_MESSAGE_CHARS:,}",
            field="message",
        )
    return message


def turn_of(run: Run, untrusted_sources: Sequence[str] = ()) -> Turn:
    detail = run.trigger_detail or {}
    return Turn(
        run_id=run.id,
        message=str(detail.get("message", "")),
        reply=run.output,
        status=run.status,
        error=run.error,
        untrusted_sources=tuple(untrusted_sources),
        started_tainted=bool(detail.get("untrusted", False)),
    )


def turns(session: Session, *, agent_id: int, user_id: int, limit: int = SHOWN_TURNS) -> list[Turn]:
    """The person's conversation with the agent, oldest first (the latest `limit` turns)."""
    rows = session.scalars(
        select(Run)
        .where(Run.agent_id == agent_id, Run.started_by_user_id == user_id, Run.trigger_kind == "chat")
        .order_by(Run.created_at.desc(), Run.id.desc())
        .limit(limit)
    ).all()
    untrusted = store.untrusted_sources(session, [run.id for run in rows])
    return [turn_of(run, untrusted.get(run.id, ())) for run in reversed(rows)]


def chat_input(earlier: Sequence[Turn], message: str) -> ChatInput:
    """The run's input (the recent finished turns as a transcript, then the new message) and whether a
    reply it carries may repeat outsiders' text."""
    lines: list[str] = []
    kept: list[EarlierTurn] = []
    size = 0
    for previous in reversed([t for t in earlier if t.reply][-CONTEXT_TURNS:]):
        block = f"Person: {previous.message}\nYou: {previous.reply}"
        if size + len(block) > CONTEXT_CHARS:
            break
        lines.insert(0, block)
        kept.insert(0, EarlierTurn(message=previous.message, reply=previous.reply or "",
                                   reply_untrusted=previous.tainted))  # fmt: skip
        size += len(block)
    conversation = Conversation(earlier=tuple(kept), message=message)
    if not lines:
        return ChatInput(text=message, untrusted=False, conversation=conversation)
    text = "Conversation so far:\n\n" + "\n\n".join(lines) + f"\n\nThe person now writes:\n{message}"
    untrusted = any(turn.reply_untrusted for turn in kept)
    return ChatInput(text=text, untrusted=untrusted, conversation=conversation)


def stored(conversation: Conversation) -> dict[str, Any]:
    """The conversation as a run's input keeps it (`run.input["conversation"]`)."""
    return asdict(conversation)


def conversation_of(kept: object) -> Conversation | None:
    """The conversation `stored` kept (None: the run is not a chat message's, or was started before runs
    kept it)."""
    if not isinstance(kept, Mapping):
        return None
    earlier = tuple(
        EarlierTurn(message=str(turn["message"]), reply=str(turn["reply"]),
                    reply_untrusted=bool(turn["reply_untrusted"]))
        for turn in kept.get("earlier", ())
    )  # fmt: skip
    return Conversation(earlier=earlier, message=str(kept["message"]))
