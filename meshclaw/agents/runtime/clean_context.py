"""The context an answer is written from once a run has read outsiders' text, and the quotations it cites.

Built from the run's message history (every segment's, so a resumed run is covered): the requests, then
each tool call with its arguments and what it returned, in order. What outsiders wrote is replaced by
handles (`[[r1]]`) and kept here; the model's own words from the tainted context (its text, its reasoning)
are left out altogether, since it may have written them on an attacker's orders. Kept:

- the requests as given (the owner's task, or the event that started the run); for a chat message, only
  the new message is the request: of the conversation before it (`Conversation`), the person's messages
  are kept and a reply that may repeat outsiders' text is withheld like their text (the transcript the
  model was sent would otherwise carry their words in as the person's own);
- every result of a tool outsiders cannot write to (the owner's own records), as it is;
- of an untrusted result, what its tool's `ResultView` keeps (numbers, booleans, declared fields); the
  same of a `mixed` result (memory recalled in a tainted run), whose outsiders' part, if it has one,
  counts as reading outsiders' text: a run tainted only by its event that recalls what an earlier tainted
  run stored has its answer written apart too;
- a call's arguments as written before the model was sent outsiders' text (a result, or such a reply);
  after that, only the strings the context already holds (a hotel name from the listing, an address from
  the request) and numbers.

`render` turns the handles an answer cites back into the withheld text, as marked quotations, so outsiders'
words reach the person only as quotes of them, never as the agent's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_core import to_jsonable_python

from meshclaw.agents.runtime.contract import Conversation
from meshclaw.agents.runtime.gated import DENIED_BY_PERSON, DENIED_BY_POLICY
from meshclaw.tools.result_view import WITHHOLD_ALL, ResultView, outsiders_text

HANDLE = re.compile(r"\[\[(r\d+)\]\]")
QUOTE_CHARS = 2_000
"""How much of one withheld text a quotation shows; the rest is in the run's record."""
INLINE_CHARS = 200
"""A quotation this short and on one line stays in the sentence that cites it."""
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,40}")
"""A key that names a field (`rating`, `price_min`) rather than carrying data (a hotel's name keying its
rating); other keys are withheld like any outsider's string."""
_SPACE = re.compile(r"\s+")
DENIED = (DENIED_BY_POLICY, DENIED_BY_PERSON)
"""How a refused call's return starts: its reason can quote the arguments, so the record only says so."""
EARLIER_REPLY = "an earlier reply in this conversation"
BY_OUTSIDERS = "written by outsiders"


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolTrust:
    """What the context needs to know of a tool: whether outsiders write its result, and its view."""

    untrusted: bool
    view: ResultView = WITHHOLD_ALL


UNKNOWN_TOOL = ToolTrust(untrusted=True)
"""A tool the run no longer offers (or an MCP tool): its results are withheld whole."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Withheld:
    text: str
    source: str
    """Where it came from, as the quotation names it: "the result of email_list_messages"."""
    marked: str = BY_OUTSIDERS
    """Whose words the quotation says they are."""


@dataclass(kw_only=True)
class CleanContext:
    requests: list[str] = field(default_factory=list)
    conversation: list[str] = field(default_factory=list)
    """A chat's earlier turns, as the clean request shows them (the person's words, replies or handles)."""
    record: list[str] = field(default_factory=list)
    withheld: dict[str, Withheld] = field(default_factory=dict)
    read_untrusted: bool = False
    """Whether any tool result in the history was untrusted (else the answer needs no second writing)."""
    heard_outsiders: bool = False
    """Whether the model had been sent outsiders' text (an untrusted result, or an earlier chat reply that
    may repeat it): the arguments it wrote from then on may carry their words."""
    _known: list[str] = field(default_factory=list)

    def hold(self, text: str, source: str, *, marked: str = BY_OUTSIDERS) -> str:
        handle = f"r{len(self.withheld) + 1}"
        self.withheld[handle] = Withheld(text=text, source=source, marked=marked)
        return f"[[{handle}]]"

    def know(self, text: str) -> None:
        self._known.append(_normal(text))

    def known(self, text: str) -> bool:
        value = _normal(text)
        return not value or any(value in known for known in self._known)


def build(
    messages: Sequence[ModelMessage],
    trust: Callable[[str], ToolTrust],
    *,
    conversation: Conversation | None = None,
) -> CleanContext:
    """The clean context of a run's history. With a `conversation` (a chat message's run), the history's
    first user prompt, the run's input, is the transcript: it is taken from the conversation instead."""
    context = CleanContext()
    calls: dict[str, ToolCallPart] = {}
    for message in messages:
        if isinstance(message, ModelResponse):
            calls.update((p.tool_call_id, p) for p in message.parts if isinstance(p, ToolCallPart))
            continue
        if not isinstance(message, ModelRequest):
            continue
        for part in message.parts:
            if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                if conversation is not None:  # the run's input: in its parts instead, once
                    _add_conversation(context, conversation)
                    conversation = None
                    continue
                context.requests.append(part.content)
                context.know(part.content)
            elif isinstance(part, ToolReturnPart):
                _add_call(context, calls.get(part.tool_call_id), part, trust(part.tool_name))
    return context


def _add_conversation(context: CleanContext, conversation: Conversation) -> None:
    for turn in conversation.earlier:
        context.know(turn.message)
        if turn.reply_untrusted:
            context.heard_outsiders = True
            reply = context.hold(turn.reply, EARLIER_REPLY, marked="which may repeat outsiders' words")
        else:  # written by a run that read nothing of theirs, from the person's words alone
            reply = turn.reply
            context.know(reply)
        context.conversation.append(f"The person wrote: {turn.message}\nYou replied: {reply}")
    context.requests.append(conversation.message)
    context.know(conversation.message)


def _add_call(
    context: CleanContext, call: ToolCallPart | None, done: ToolReturnPart, tool: ToolTrust
) -> None:
    args = _args(context, call.args_as_dict() if call is not None else {}, done.tool_name)
    content = to_jsonable_python(done.content, fallback=str)
    if isinstance(content, str) and content.startswith(DENIED):
        result: Any = "(not run: refused)"
    elif tool.untrusted:
        context.read_untrusted = context.heard_outsiders = True
        result = _view(context, content, tool.view, f"the result of {done.tool_name}")
    elif tool.view.mixed:
        if outsiders_text(tool.view, content):
            # Words an earlier tainted run stored (maybe an outsider's) were sent to the model: its
            # answer may repeat them, as after any untrusted result.
            context.read_untrusted = context.heard_outsiders = True
        result = _view(context, content, tool.view, f"the result of {done.tool_name}")
    else:
        result = content
        context.know(_dump(content))
    context.record.append(
        f"{len(context.record) + 1}. {done.tool_name} {_dump(args)} returned {_dump(result)}"
    )


def _args(context: CleanContext, args: Mapping[str, Any], tool: str) -> Any:
    if not context.heard_outsiders:
        context.know(_dump(args))
        return args
    source = f"an argument of {tool} the agent wrote after reading outsiders' text"

    def keep(value: Any) -> Any:
        if isinstance(value, str):
            return value if context.known(value) else context.hold(value, source)
        if isinstance(value, Mapping):
            return {str(key): keep(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [keep(item) for item in value]
        return value

    return keep(to_jsonable_python(args, fallback=str))


def _view(context: CleanContext, content: Any, view: ResultView, source: str) -> Any:
    if view.typed is not None:
        try:
            content = to_jsonable_python(view.typed(content), fallback=str)
        except Exception:  # a result the view cannot read is withheld whole, never shown raw
            return context.hold(_dump(content) if not isinstance(content, str) else content, source)

    def keep(value: Any, trusted: bool) -> Any:
        if isinstance(value, str):
            if trusted:
                context.know(value)
                return value
            return context.hold(value, source)
        if isinstance(value, Mapping):
            kept = {}
            for key, item in value.items():
                name = str(key)
                shown = name if _KEY.fullmatch(name) else context.hold(name, source)
                kept[shown] = keep(item, name in view.fields)
            return kept
        if isinstance(value, list | tuple):
            return [keep(item, trusted) for item in value]
        return value  # numbers, booleans, None

    return keep(content, False)


def prompt(context: CleanContext) -> str:
    """What the model is sent: the requests, then the record, then how to cite a handle."""
    latest = context.requests[-1] if context.requests else "(no request text)"
    earlier = "".join(f"Earlier request: {text}\n\n" for text in context.requests[:-1])
    if context.conversation:
        earlier += (
            "Conversation so far (a reply of yours that may repeat outsiders' text is a handle, as their "
            "text is below):\n\n" + "\n\n".join(context.conversation) + "\n\nThe person now writes:\n"
        )
    record = "\n".join(context.record) or "(no tool was called)"
    return (
        f"{earlier}{latest}\n\n---\nYou have already done the work for this request; the record of it is "
        "below. Text written by outsiders (mail, others' messages, reviews, files others share, web pages) "
        "is not shown: each such text is a handle like [[r1]]. Write your answer to the request from this "
        "record alone. To show the person one of those texts, write its handle, e.g. [[r1]]: it is shown "
        "to them as a quotation marked with where it came from. No tool can be called now.\n\n"
        f"Record:\n{record}"
    )


def render(answer: str, context: CleanContext) -> str:
    """The answer with each cited handle replaced by its text as a marked quotation."""

    def quote(match: re.Match[str]) -> str:
        withheld = context.withheld.get(match[1])
        if withheld is None:
            return "[a quotation the agent named does not exist]"
        text = withheld.text
        if len(text) > QUOTE_CHARS:
            more = len(withheld.text) - QUOTE_CHARS
            text = f"{text[:QUOTE_CHARS]}... ({more} more characters in the run's record)"
        if len(text) <= INLINE_CHARS and "\n" not in text:
            return f'"{text}" (quoted from {withheld.source}, {withheld.marked})'
        lines = "\n".join(f"> {line}" for line in text.splitlines())
        return f"\n\n> Quoted from {withheld.source}, {withheld.marked}:\n{lines}\n\n"

    return HANDLE.sub(quote, answer).strip()


def _dump(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()
