"""The admission decision before a model call, and its settlement after.

Callers (the gateway, the agent runtime) do exactly this around every upstream call:

    ticket = limiter.admit(subject, reserve_tokens=..., reserve_cost_microusd=..., now=now)  # may raise
    try:
        ... call the model ...
    finally:
        ticket.settle(tokens=actual_tokens, cost_microusd=actual_cost, now=now)  # exactly once, 0 on failure

`admit` is synchronous and touches only memory (no I/O on the request path). It reserves the request's
worst case (tokens and cost) against every budget that applies to the subject, so concurrent requests
cannot together overshoot a hard limit; `settle` replaces the reservation with what was really used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Subject:
    """Whom a model call is charged to. Every non-None id has its own budgets and limits."""

    api_key_id: int | None = None
    user_id: int | None = None
    team_id: int | None = None
    agent_id: int | None = None


class LimitExceeded(Exception):
    """A hard budget or a rate limit refuses the call. `message` names the limit and when it resets."""

    def __init__(self, *, limit: str, scope: str, reset_at: datetime, now: datetime) -> None:
        self.limit = limit
        """What was exceeded, e.g. "hard budget of 5.00 USD per day" or "60 requests per minute"."""
        self.scope = scope
        """Whose limit, e.g. "user alice@example.org", "team Platform", "API key 'ci'", "agent triage"."""
        self.reset_at = reset_at
        self.retry_after_s = max(1, int((reset_at - now).total_seconds() + 0.999))
        super().__init__(self.message)

    @property
    def message(self) -> str:
        reset = self.reset_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{self.scope}: {self.limit} reached; resets at {reset} (in {self.retry_after_s} s)"


class Ticket:
    """One admitted call's reservation; `settle` it exactly once."""

    __slots__ = ("_settled",)

    def __init__(self) -> None:
        self._settled = False

    def settle(self, *, tokens: int, cost_microusd: int, now: datetime) -> None:
        if self._settled:
            raise RuntimeError("a ticket is settled exactly once")
        self._settled = True


class Limiter:
    """Budgets and rate limits for one process.

    This first version admits everything (no budgets can be configured yet); the budgets issue work
    fills it in behind the same interface.
    """

    def admit(
        self, subject: Subject, *, reserve_tokens: int, reserve_cost_microusd: int, now: datetime
    ) -> Ticket:
        return Ticket()
