"""Who the tool call in progress acts for: the run, its agent and the agent's owner.

Set by the runs layer around each tool call, like the idempotency key, so a connector's tools can ask the
platform for an account (`meshclaw.connectors.contract.Accounts`) without every tool carrying the run in
its arguments, where the model could change it.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, slots=True)
class Caller:
    run_id: str
    agent_id: int
    owner_user_id: int


_CALLER: ContextVar[Caller | None] = ContextVar("meshclaw_tool_caller", default=None)


def current() -> Caller | None:
    """The caller of the tool call in progress; None outside a run (a direct call, a test)."""
    return _CALLER.get()


def bind(caller: Caller) -> Token[Caller | None]:
    return _CALLER.set(caller)


def unbind(token: Token[Caller | None]) -> None:
    _CALLER.reset(token)
