"""Effect classes: what a tool can do to the world, which decides how the policy gate treats a call.

Ordered from harmless to most dangerous. A tool whose effect is unknown (an MCP or skill tool no admin has
classified yet) is treated as `DESTRUCTIVE`, the most dangerous class, until someone classifies it.
"""

from __future__ import annotations

from enum import StrEnum


class EffectClass(StrEnum):
    READ_PRIVATE = "read_private"
    """Reads the owner's or the organization's own data (their mailbox, their calendar, internal docs)."""
    READ_UNTRUSTED = "read_untrusted"
    """Reads content outsiders can write: inbound email, others' chat messages, web pages, CI logs.
    A run that called one is tainted."""
    WRITE_INTERNAL = "write_internal"
    """Changes state only the organization sees: a draft, a label, a memory item, an internal ticket."""
    COMMUNICATE_EXTERNAL = "communicate_external"
    """Sends data where others can read it: email, chat posts, invites, shares, fetching a URL."""
    DEPLOY = "deploy"
    """Starts, changes or rolls back a deployment."""
    DESTRUCTIVE = "destructive"
    """Deletes or irreversibly changes something."""

    @property
    def rank(self) -> int:
        """0 for the most harmless class, 5 for the most dangerous."""
        return _ORDER.index(self)


_ORDER = list(EffectClass)

UNCLASSIFIED = EffectClass.DESTRUCTIVE
"""The class of a tool nobody has classified: assume the worst."""
