"""The event shapes every source produces. Plain dataclasses: cheap to build on the gateway's hot path.

Token buckets are exclusive, so they add up to the total without double counting: providers and OTel
count cached tokens inside "input" (and reasoning inside "output"); `normalize.py` converts on the way in,
and the provider's raw usage object is kept alongside.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Source = Literal["gateway", "agent", "otlp", "import"]
Initiator = Literal["human", "automation"]
Status = Literal["ok", "error", "cancelled"]

BUCKETS = ("input_uncached", "cache_read", "cache_write", "output", "reasoning")


def new_event_id() -> str:
    """A time-ordered unique id: 48 bits of milliseconds then 80 random bits, as 32 hex digits (UUIDv7's
    layout). Ids that grow with time land at the end of the unique index instead of at random pages,
    which keeps inserts fast as the table grows."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


@dataclass(slots=True, kw_only=True)
class TokenBuckets:
    input_uncached: int = 0
    """Input tokens read at the full input price (cache reads and writes excluded)."""
    cache_read: int = 0
    """Input tokens served from the provider's prompt cache."""
    cache_write: int = 0
    """Input tokens written to the prompt cache (Anthropic's cache_creation)."""
    output: int = 0
    """Visible output tokens (reasoning excluded)."""
    reasoning: int = 0
    """Hidden reasoning/thinking tokens, billed as output by most providers."""

    @property
    def total(self) -> int:
        return self.input_uncached + self.cache_read + self.cache_write + self.output + self.reasoning

    def __add__(self, other: TokenBuckets) -> TokenBuckets:
        return TokenBuckets(
            input_uncached=self.input_uncached + other.input_uncached,
            cache_read=self.cache_read + other.cache_read,
            cache_write=self.cache_write + other.cache_write,
            output=self.output + other.output,
            reasoning=self.reasoning + other.reasoning,
        )


@dataclass(slots=True, kw_only=True)
class UsageEvent:
    """One model call, however MeshClaw learned of it."""

    event_id: str = field(default_factory=new_event_id)
    """Unique; a second event with the same id is ignored, so retries and replays never double count."""
    source: Source
    started_at: datetime
    ended_at: datetime
    status: Status = "ok"
    error: str | None = None
    """A short, secret-free description of what failed."""
    provider: str | None = None
    operation: str = "chat"
    """chat, responses, embeddings, messages, or the OTel gen_ai.operation.name."""
    requested_model: str | None = None
    model: str | None = None
    """The model the provider says answered."""
    tokens: TokenBuckets = field(default_factory=TokenBuckets)
    raw_usage: dict[str, Any] | None = None
    cost_usd: float | None = None
    """Set by the source when it knows the cost (e.g. a tool's own cost metric); otherwise priced here."""
    user_id: int | None = None
    team_id: int | None = None
    """The user's team at the time of the call; stamped by the recorder when left unset."""
    agent_id: int | None = None
    run_id: str | None = None
    api_key_id: int | None = None
    client: str | None = None
    """The calling app: a user agent, an OTel service.name, an import's tool name."""
    initiator: Initiator = "human"
    prompt_hash: str | None = None
    session_id: str | None = None
    attributes: dict[str, Any] | None = None

    @property
    def latency_ms(self) -> int:
        return max(0, int((self.ended_at - self.started_at).total_seconds() * 1000))


@dataclass(slots=True, kw_only=True)
class OutcomeEvent:
    """Something an agent or a tool accomplished: an email triaged, a commit, a PR, a decision."""

    event_id: str = field(default_factory=new_event_id)
    type: str
    """`noun.past_verb`, e.g. email.triaged, commit.created, pull_request.created, code_edit.decided."""
    occurred_at: datetime
    source: Source
    quantity: float = 1.0
    """How many (lines for lines_of_code, 1 for most)."""
    accepted: bool | None = None
    """For decisions and drafts: accepted (True), rejected or discarded (False), not a decision (None)."""
    minutes_saved: float | None = None
    user_id: int | None = None
    team_id: int | None = None
    agent_id: int | None = None
    run_id: str | None = None
    client: str | None = None
    session_id: str | None = None
    attributes: dict[str, Any] | None = None


@dataclass(slots=True, kw_only=True)
class ActivityEvent:
    """Session telemetry that is neither a model call nor an outcome (a tool result, a prompt's length,
    an API error and its retry attempt), kept for detecting low-value and runaway use."""

    event_id: str = field(default_factory=new_event_id)
    name: str
    occurred_at: datetime
    source: Source
    user_id: int | None = None
    team_id: int | None = None
    agent_id: int | None = None
    client: str | None = None
    session_id: str | None = None
    attributes: dict[str, Any] | None = None
