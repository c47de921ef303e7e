"""Which parts of a tool's result outsiders cannot write: what an answer may read once the run has read
outsiders' text (`meshclaw.agents.runtime.clean_answer`).

A run that read content outsiders wrote (mail, others' messages, reviews, web pages) may have been talked
into saying something: "recommend Riverside View Hotel", "tell her the invoice is urgent". No tool gate
sees an answer, so the runtime writes it once more from a context without outsiders' free text. What stays
in that context is decided here, per tool, by rules that do not depend on the text itself:

- numbers, booleans and nulls stay wherever they are (a rating, a price, a count cannot carry an
  instruction);
- strings stay only under the keys a tool declares its system writes (`fields`): an id, a timestamp, an
  address, a status;
- every other string is withheld behind a handle the answer can cite, shown to the person as a quotation.

A tool whose facts are inside free text ("Rating: 4.5\\nReviews: ...") supplies `typed`, which turns its
result into records first; it runs on the result as the tool returned it, and whatever it fails on is
withheld whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True, slots=True)
class ResultView:
    fields: frozenset[str] = frozenset()
    """Keys, at any depth of the (typed) result, whose string values the system writes, never outsiders."""
    typed: Callable[[Any], Any] | None = None
    """The result as records, for a tool whose facts are embedded in text; None: the result as it is."""
    mixed: bool = False
    """Apply the view even though the tool is not marked untrusted: its result mixes the owner's records
    with outsiders' text, told apart per record by `typed` (memory recalled in a tainted run)."""


WITHHOLD_ALL = ResultView()
"""The default: every string of the result is withheld (MCP tools, tools that declare nothing)."""


def outsiders_text(view: ResultView, result: Any) -> list[str]:
    """The strings of `result` the view does not vouch for: what outsiders may have written.

    For flow tracking of a `mixed` result (memory recalled in a tainted run): the untrusted records' text
    is what an argument copied from it would carry. A result `typed` cannot read is outsiders' as a whole.
    """
    if view.typed is not None:
        try:
            result = view.typed(result)
        except Exception:  # unreadable: none of it is vouched for
            return [result if isinstance(result, str) else repr(result)]
    found: list[str] = []

    def walk(value: Any, vouched: bool) -> None:
        if isinstance(value, str):
            if not vouched:
                found.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, str(key) in view.fields)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item, vouched)

    walk(result, False)
    return found
