"""The grammar of a deploy request in chat: "deploy web 1.4.2 to staging" -> one fixed action.

The message is untrusted (anyone who can DM the bot wrote it), so it is matched whole by a strict regular
expression and nothing of it reaches the action but three values: a service and an environment from the
agent's closed sets, and a version of the deploy connector's own version syntax. Anything more (a second
command, a shell fragment, a word too many) is refused, not trimmed. A name that is not one of the closed
options is resolved by unique prefix ("prod" -> "production"); when several options fit, the playbook may
ask the model to pick among exactly those (`Parsed.ambiguous`), never to name something else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from meshclaw.connectors.deploy.names import VERSION

_NAME = r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}"
_MENTION = r"(?:<@[A-Z0-9]+>|@[a-z0-9._=/+-]+:[A-Za-z0-9.-]+(?::[0-9]{1,5})?)"
"""The bot named first: Slack's `<@U0MESHBOT1>`, or a Matrix user id `@meshclaw:example.org`."""
REQUEST = re.compile(
    rf"(?:{_MENTION}[\s,:]*)?(?:please\s+)?deploy\s+(?P<service>{_NAME})\s+(?:version\s+)?"
    rf"(?P<version>\S+)\s+(?:to|on|in|into)\s+(?P<environment>{_NAME})(?:\s+please)?\s*[.!]?",
    re.IGNORECASE,
)
EXAMPLE = "deploy web 1.4.2 to staging"
ADDRESSED = re.compile(rf"\s*(?:{_MENTION}[\s,:]*)?(?:please\s+)?deploy\b", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True)
class Parsed:
    service: tuple[str, ...] = ()
    """The services the request can mean: one when it is clear, several when ambiguous."""
    environment: tuple[str, ...] = ()
    version: str = ""
    refusal: str | None = None
    """Why the request is not one this agent can carry out (then the rest is empty)."""
    ambiguous: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per kind (`service`, `environment`), the options that fit a name that is not exact."""


def asks_to_deploy(text: str) -> bool:
    """Whether the message starts like a deploy request, well formed or not. Anything else in the DM is
    not for this agent (the owner's chat assistant reads the same DMs): no refusal, no notice."""
    return ADDRESSED.match(text) is not None


def parse(text: str, services: Sequence[str], environments: Sequence[str]) -> Parsed:
    match = REQUEST.fullmatch(text.strip())
    if match is None:
        return Parsed(refusal=f"not a request I understand; write it as '{EXAMPLE}', and nothing else")
    version = match["version"]
    if not VERSION.fullmatch(version):
        return Parsed(refusal="the version may hold only letters, digits and . _ + - and must start with a "
                              "letter or digit")  # fmt: skip
    found: dict[str, tuple[str, ...]] = {}
    for kind, a_kind, name, options in (("service", "a service", match["service"], services),
                                        ("environment", "an environment", match["environment"], environments)):  # fmt: skip
        fitting = _fitting(name.lower(), options)
        if not fitting:
            listed = ", ".join(options)
            return Parsed(refusal=f"'{name}' is not {a_kind} I deploy (I deploy {kind}s {listed})")
        found[kind] = fitting
    return Parsed(service=found["service"], environment=found["environment"], version=version,
                  ambiguous={kind: options for kind, options in found.items() if len(options) > 1})  # fmt: skip


def _fitting(name: str, options: Sequence[str]) -> tuple[str, ...]:
    if name in options:
        return (name,)
    return tuple(option for option in options if option.startswith(name))
