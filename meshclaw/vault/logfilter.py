"""A logging filter that replaces every secret value this process has decrypted with `[vault secret]`.

Code should never log a secret; this is the net under it. The vault registers each value it decrypts
(`SecretLogFilter.add`), and the filter rewrites a record's message, arguments, extra fields and formatted
exception before any handler writes it. Handler filters (not logger filters) are used because only they
see records propagated from child loggers; the filter is attached to every handler of the root logger
each time the vault registers a value, so handlers installed later (log set-up, test capture) get it too.
The one instance is found on the root logger, where logging keeps its process-wide state anyway.
"""

from __future__ import annotations

import logging
import threading

REPLACEMENT = "[vault secret]"
MIN_LENGTH = 4
"""Shorter values are not registered: replacing every "abc" in every log line would hide more than it
protects, and a 3-character secret is not a secret."""
_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class SecretLogFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self._values: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        if len(value) < MIN_LENGTH or value in self._values:
            return
        with self._lock:
            # Longest first, so a secret containing another is replaced whole. A tuple swapped in one
            # assignment lets `filter` read it without the lock.
            self._values = tuple(sorted({*self._values, value}, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REPLACEMENT)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._values:
            return True
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.redact(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            clean = self.redact(record.exc_text)
            if clean != record.exc_text:
                # A formatter that renders `exc_info` itself would print the secret again; without it,
                # formatters print the redacted `exc_text`.
                record.exc_text, record.exc_info = clean, None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def secret_log_filter() -> SecretLogFilter:
    """The process's filter, attached to the root logger's current handlers (idempotent, cheap)."""
    root = logging.getLogger()
    found = next((f for f in root.filters if isinstance(f, SecretLogFilter)), None)
    if found is None:
        found = SecretLogFilter()
        root.addFilter(found)  # where the instance lives, and for records logged on the root itself
    for handler in root.handlers:
        if found not in handler.filters:
            handler.addFilter(found)
    return found
