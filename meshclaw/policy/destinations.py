"""Where a call sends data: the recipients, domains and URLs in its arguments.

Arguments are found by name, the convention every connector follows (`to`, `cc`, `recipients`,
`participants`, `url`...), so a new tool that sends somewhere is covered when it names its arguments like
the others. A value in such an argument that is not an address, a URL or a domain is kept as an unknown
destination, which the gate treats as external: guessing in the sender's favour is how data leaks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

DESTINATION_ARGS = frozenset(
    {
        "to", "cc", "bcc", "recipient", "recipients", "email", "emails", "address", "addresses",
        "participant", "participants", "attendee", "attendees", "invitee", "invitees", "share_with",
        "url", "urls", "link", "links", "webhook", "webhook_url", "endpoint", "domain", "host",
    }
)  # fmt: skip
DESTINATION_SUFFIXES = ("_email", "_emails", "_url", "_urls", "_recipients", "_address", "_domain")

_EMAIL = re.compile(r"^[^@\s<>]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)$")
_NAMED_EMAIL = re.compile(r"<([^<>@\s]+@[^<>\s]+)>\s*$")
_DOMAIN = re.compile(r"^(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}$")

_CHAT_ID = re.compile(r"^@[^:\s]+:((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})(?::\d+)?$")
"""A Matrix user id, `@ana:example.org`: a person on that homeserver."""

Kind = Literal["email", "url", "domain", "chat", "unknown"]


@dataclass(frozen=True, slots=True)
class Destination:
    kind: Kind
    value: str
    """The address, URL or domain as given (an unknown one as given, cut to 200 characters)."""
    domain: str | None
    """Lower-case host or mail domain; None for an unknown destination."""
    argument: str
    """Which argument named it (`to[1]`)."""

    def __str__(self) -> str:
        return self.value


def is_destination_arg(name: str) -> bool:
    key = name.lower()
    return key in DESTINATION_ARGS or key.endswith(DESTINATION_SUFFIXES)


def destinations(args: Mapping[str, Any]) -> list[Destination]:
    """Every destination in the arguments, including those nested in objects and lists."""
    return list(_walk(args, "", inside=False))


def _walk(value: Any, path: str, *, inside: bool) -> Iterator[Destination]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield from _walk(item, child, inside=inside or is_destination_arg(str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]", inside=inside)
    elif inside and isinstance(value, str) and value.strip():
        for part in _split(value):
            yield parse(part, path)


def _split(value: str) -> list[str]:
    """`a@x.com, b@y.com` is two recipients; a URL is one value even if it contains commas."""
    text = value.strip()
    if "://" in text:
        return [text]
    return [part.strip() for part in re.split(r"[,;]", text) if part.strip()]


def parse(text: str, argument: str) -> Destination:
    named = _NAMED_EMAIL.search(text)
    address = named.group(1) if named else text
    email = _EMAIL.match(address)
    if email:
        return Destination("email", address, email.group(1).lower().rstrip("."), argument)
    chat = _CHAT_ID.match(text)
    if chat:
        return Destination("chat", text, chat.group(1).lower(), argument)
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme in ("http", "https") and parts.hostname:
            return Destination("url", text, parts.hostname.lower().rstrip("."), argument)
        return Destination("unknown", text[:200], None, argument)
    if _DOMAIN.match(text):
        return Destination("domain", text, text.lower().rstrip("."), argument)
    return Destination("unknown", text[:200], None, argument)
