"""What the record of a refused tool call may hold: the call's arguments, name and reason, cut to a size.

A refused call did nothing, yet its record (the run's step and the `tool.denied` audit record) keeps what
the model wrote: every argument, the tool's name (any string, for a tool the run does not offer) and the
gate's reason, which can quote an argument. A compromised model could make each refusal megabytes long;
the tool-call limit bounds how many refusals a run makes, this bounds how large each one is. Allowed calls
are not cut: their arguments passed the tool's schema and are what the tool acted on.

Arguments are cut by walking them, not by cutting their JSON text, so the audit log's redaction still sees
every field name it keeps (a `password` field stays a field whose value it replaces).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_ARGS_CHARS = 16_000
"""About the size of the arguments' JSON kept: room for a long message body, nowhere near a megabyte."""
MAX_STRING_CHARS = 4_000
MAX_ITEMS = 100
"""Per string and per list or object, so one huge field does not crowd the others (and their names) out."""
MAX_NAME_CHARS = 200
MAX_REASON_CHARS = 2_000
MAX_DEPTH = 20
KEY_CHARS = 100
"""A longer field name keeps its start and its end: the end is what marks a field as secret (`_password`)."""


def refused_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """`args` as they are when their JSON fits `MAX_ARGS_CHARS`; else cut, with markers saying how much
    was left out."""
    try:
        fits = len(json.dumps(args, ensure_ascii=False, default=str)) <= MAX_ARGS_CHARS
    except RecursionError:  # nested past what `json` walks: far too large anyway
        fits = False
    if fits:
        return dict(args)
    budget = _Budget(MAX_ARGS_CHARS)
    cut: dict[str, Any] = _mapping(args, budget, depth=0)
    return cut


def refused_text(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """A name or a reason, cut to `limit` characters with a marker."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[{len(text) - limit} more characters]"


class _Budget:
    def __init__(self, chars: int) -> None:
        self.left = chars


def _value(value: Any, budget: _Budget, depth: int) -> Any:
    if depth >= MAX_DEPTH and isinstance(value, Mapping | list | tuple):
        return f"[nested deeper than {MAX_DEPTH} levels]"
    if isinstance(value, Mapping):
        return _mapping(value, budget, depth)
    if isinstance(value, list | tuple):
        return _sequence(value, budget, depth)
    if isinstance(value, str):
        kept = max(0, min(budget.left, MAX_STRING_CHARS))
        budget.left -= min(len(value), kept) + 4  # the quotes, the comma and space that follow
        return value if len(value) <= kept else f"{value[:kept]}…[{len(value) - kept} more characters]"
    budget.left -= len(str(value)) + 2
    return value


def _mapping(value: Mapping[Any, Any], budget: _Budget, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for index, (key, item) in enumerate(value.items()):
        if budget.left <= 0 or index == MAX_ITEMS:
            out["…"] = f"{len(value) - index} more fields"
            break
        name = str(key)
        if len(name) > KEY_CHARS:
            name = f"{name[: KEY_CHARS // 2]}…{name[-KEY_CHARS // 2 :]}"
        budget.left -= len(name) + 6
        out[name] = _value(item, budget, depth + 1)
    return out


def _sequence(value: list[Any] | tuple[Any, ...], budget: _Budget, depth: int) -> list[Any]:
    out: list[Any] = []
    for index, item in enumerate(value):
        if budget.left <= 0 or index == MAX_ITEMS:
            out.append(f"…[{len(value) - index} more items]")
            break
        out.append(_value(item, budget, depth + 1))
    return out
