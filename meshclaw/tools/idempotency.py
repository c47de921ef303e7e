"""The idempotency key of the tool call being executed, for tools whose effect must happen once.

A durable run executes every tool call as a step; after a crash, a call that finished is not repeated,
but one that was cut off mid-way runs again. A tool that changes the world passes `current_key()` to the
remote system (an `Idempotency-Key` header, a message id, a row's unique key) so the repeat is a no-op.
The runs layer sets the key (the run id and the call's sequence number in the run) around each call.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

_KEY: ContextVar[str | None] = ContextVar("meshclaw_tool_idempotency_key", default=None)


def current_key() -> str | None:
    """The key of the call in progress; None outside a durable run (a direct call, a test)."""
    return _KEY.get()


def bind(key: str) -> Token[str | None]:
    return _KEY.set(key)


def unbind(token: Token[str | None]) -> None:
    _KEY.reset(token)
