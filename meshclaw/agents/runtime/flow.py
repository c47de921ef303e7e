"""Did untrusted content flow into these arguments? The run's record of what outsiders wrote.

Every result of a `read_untrusted` tool is kept (normalized, bounded) with the tool that produced it. The
policy gate asks `flowed_into(args)` before a consequential call: an argument value that appears in that
content (a recipient address, a URL, an account number, a version or id, or a passage of about 30 characters) came from
outsiders, as far as code can tell. A model can paraphrase, so this catches copying, not meaning: the gate
treats every tainted run as suspect anyway (rule of two) and uses flow only to refuse shortcuts, such as a
pre-approval, when the arguments carry untrusted text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

WINDOW = 24
"""A shared passage this long counts as copied; short words and dates are everyday coincidences."""
STEP = 8
IDENTIFIER = re.compile(
    r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"  # e-mail addresses
    r"|https?://[^\s<>\"')\]]+"  # URLs
    r"|\b[A-Z]{2}\d{2}[A-Z0-9]{10,30}\b"  # IBAN-like account numbers
    r"|\b\d{6,}\b",  # long numbers: accounts, phone numbers, ids
    re.IGNORECASE,
)
MAX_CHARS = 2_000_000
"""What one run keeps of untrusted content; beyond it, every argument counts as flowed (the safe side)."""
_SPACE = re.compile(r"\s+")


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
    elif value is not None and not isinstance(value, bool):
        yield path, str(value)


@dataclass(kw_only=True)
class UntrustedContent:
    """What the run read from outsiders so far (this segment, plus `unknown_before` for earlier ones)."""

    unknown_before: bool = False
    """An earlier segment read untrusted content whose text is not here: every argument may carry it."""
    sources: list[str] = field(default_factory=list)
    """The tools that returned it, in order (repeats removed): the audit's taint sources."""
    _text: list[str] = field(default_factory=list)
    _identifiers: set[str] = field(default_factory=set)
    _values: list[str] = field(default_factory=list)
    """The values of an untrusted event (`add_event`): matched as whole tokens however short or plain."""
    _chars: int = 0

    def add(self, source: str, content: object) -> None:
        if source not in self.sources:
            self.sources.append(source)
        leaves = (
            [content] if isinstance(content, str) else [text for _, text in _strings(_plain(content), "")]
        )
        text = _normal("\n".join(leaves))
        self._chars += len(text)
        if self._chars > MAX_CHARS:
            return
        self._text.append(text)
        self._identifiers.update(match.casefold() for match in IDENTIFIER.findall(text))

    def add_event(self, source: str, values: Iterable[str]) -> None:
        """The field values of the event that started the run, written by outsiders. Each one is short
        (a service, a version, a folder), so unlike a tool's text it counts whenever an argument holds it as
        a whole token, or is a whole token of it, however plain: a playbook copies such values exactly."""
        kept = [_normal(value) for value in values]
        self.add(source, "\n".join(kept))
        self._values.extend(value for value in kept if value)

    @property
    def present(self) -> bool:
        return self.unknown_before or bool(self.sources)

    def flowed_into(self, args: Mapping[str, Any]) -> list[str]:
        """The argument paths (`to[0]`, `body`) whose value came from untrusted content."""
        if not self.present:
            return []
        everything_suspect = self.unknown_before or self._chars > MAX_CHARS
        blob = "\n".join(self._text)
        flowed = []
        for path, raw in _strings(args, ""):
            value = _normal(raw)
            if not value:
                continue
            if everything_suspect or self._copied(value, blob) or self._from_event(value):
                flowed.append(path)
        return flowed

    def _from_event(self, value: str) -> bool:
        return any(_whole_token(value, known) or _whole_token(known, value) for known in self._values)

    def _copied(self, value: str, blob: str) -> bool:
        if any(match.casefold() in self._identifiers for match in IDENTIFIER.findall(value)):
            return True
        if len(value) < WINDOW:
            return _distinctive(value) and _whole_token(value, blob)
        # Any shared passage of WINDOW + STEP characters contains one of these aligned windows.
        return any(value[i : i + WINDOW] in blob for i in range(0, len(value) - WINDOW + 1, STEP))


def _plain(value: Any) -> Any:
    """A tool's result as plain data (pydantic models and dataclasses become dicts)."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    return value


def _distinctive(value: str) -> bool:
    """A short value that would not turn up by chance: an id, a version, a path; not a plain word."""
    return len(value) >= 12 or (len(value) >= 4 and not value.replace(" ", "").isalpha())


def _whole_token(value: str, blob: str) -> bool:
    """A short value (an id, a name) counts when it appears in the content as a whole token."""
    return re.search(rf"(?<![\w]){re.escape(value)}(?![\w])", blob) is not None
