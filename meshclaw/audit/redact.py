"""What of a tool call's arguments the audit log keeps: everything except secrets.

Three nets, because each misses something the others catch:
1. fields whose name says secret (`password`, `token`, `api_key`, ...) plus fields a caller configures;
2. values that look like credentials wherever they appear (provider keys, bearer tokens, `key=...`),
   using the same patterns the log formatter masks;
3. exact values the caller knows are secret (what the vault decrypted for this call).
The digest is computed over the original arguments, so an approval bound to them still matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from meshclaw.logs import scrub

REDACTED = "[redacted]"

# A field is secret when its last name component is one of these words: `smtp_password`, `x-api-key` and
# `Authorization` are; `max_tokens` and `oauth_scopes` are not.
_SECRET_FIELD = re.compile(
    r"(?i)(^|[_\-.])(pass(word|wd|phrase)?|secret|token|api[_\-]?key|apikey|auth|authorization|cookie|"
    r"credentials?|private[_\-]?key|access[_\-]?key|signature)$"
)
_EXTRA_PATTERNS = (
    re.compile(r"\b(xox[abposr]-[A-Za-z0-9-]{10,})"),  # Slack tokens
    re.compile(r"\b(ya29\.[A-Za-z0-9_\-]{10,})"),  # Google OAuth access tokens
    re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,})"),  # GitHub tokens
    re.compile(r"\b(AKIA[0-9A-Z]{16})\b"),  # AWS access key ids
    re.compile(r"\b(eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,})"),  # JWTs
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
)


def _redact_text(text: str, known: tuple[str, ...]) -> str:
    for value in known:
        text = text.replace(value, REDACTED)
    for pattern in _EXTRA_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return scrub(text)


def redact(value: object, *, secret_fields: Iterable[str] = (), secret_values: Iterable[str] = ()) -> object:
    """A copy of `value` (JSON-shaped) with secret fields and secret-looking strings replaced."""
    fields = frozenset(name.lower() for name in secret_fields)
    # Longest first, so a secret that contains another is replaced whole.
    known = tuple(sorted((v for v in secret_values if len(v) >= 4), key=len, reverse=True))
    return _walk(value, fields, known)


def _walk(value: object, fields: frozenset[str], known: tuple[str, ...]) -> object:
    if isinstance(value, Mapping):
        out: dict[str, object] = {}
        for key, item in value.items():
            name = str(key)
            if name.lower() in fields or _SECRET_FIELD.search(name):
                out[name] = REDACTED if item not in (None, "") else item
            else:
                out[name] = _walk(item, fields, known)
        return out
    if isinstance(value, list | tuple):
        return [_walk(item, fields, known) for item in value]
    if isinstance(value, str):
        return _redact_text(value, known)
    return value
