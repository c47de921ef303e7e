"""The event that started a run, read back from the run's input.

The runs engine gives an event-triggered run the input `Event <type>: key=value, key=value` (fields sorted
by key, meshclaw/runs/engine.py `publish`). Playbooks that act on the event's fields read them here, and
the runtime names the event as what tainted the run; a run started by hand or by a schedule has no event
(None). Values are whatever the connector emitted (a chat message's `text` is an outsider's): a playbook
still checks every field it uses against its own closed sets before acting on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(r"Event (?P<type>[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*): (?P<fields>.*)", re.DOTALL)
_FIELD = re.compile(r"(?P<key>[a-z][a-z0-9_]*)=(?P<value>.*)", re.DOTALL)
_NEXT = re.compile(r", (?=[a-z][a-z0-9_]*=)")
"""Where a field ends: `, ` before the next `key=` (a chat message's `text` may hold commas)."""


@dataclass(frozen=True, kw_only=True)
class TriggerEvent:
    type: str
    fields: dict[str, str]


def trigger_event(text: str) -> TriggerEvent | None:
    """The event in a run's input, or None when the run was not started by one (or the line is not the
    engine's: a field without `key=`)."""
    match = _LINE.fullmatch(text.strip())
    if match is None:
        return None
    fields: dict[str, str] = {}
    for part in _NEXT.split(match["fields"]):
        field = _FIELD.fullmatch(part)
        # A key seen twice: a value (a message's text) imitates another field, e.g. "..., user=U0OWNER".
        # The line cannot be read safely, so the run acts on no event at all.
        if field is None or field["key"] in fields:
            return None
        fields[field["key"]] = field["value"]
    return TriggerEvent(type=match["type"], fields=fields)
