"""From pydantic-ai's usage to MeshClaw's exclusive token buckets, and the per-run limits as pydantic-ai's
`UsageLimits` (what earlier segments spent is taken off), and whether a request the runtime sends itself
still fits them."""

from __future__ import annotations

from pydantic_ai.usage import RequestUsage, UsageLimits

from meshclaw.agents.runtime.contract import LimitName, TokenCounts, UsageTotals
from meshclaw.agents.spec import RunLimits


def token_counts(usage: RequestUsage) -> TokenCounts:
    """pydantic-ai counts cache reads and writes inside input and reasoning inside output, as providers do;
    metering's buckets are exclusive."""
    cache = usage.cache_read_tokens + usage.cache_write_tokens
    return TokenCounts(
        input_uncached=max(0, usage.input_tokens - cache),
        cache_read=usage.cache_read_tokens,
        cache_write=usage.cache_write_tokens,
        output=max(0, usage.output_tokens - usage.output_reasoning_tokens),
        reasoning=usage.output_reasoning_tokens,
    )


def add_tokens(a: TokenCounts, b: TokenCounts) -> TokenCounts:
    return TokenCounts(
        input_uncached=a.input_uncached + b.input_uncached,
        cache_read=a.cache_read + b.cache_read,
        cache_write=a.cache_write + b.cache_write,
        output=a.output + b.output,
        reasoning=a.reasoning + b.reasoning,
    )


def add_usage(a: UsageTotals, b: UsageTotals) -> UsageTotals:
    """Two spans of a run together (a cost is None only when neither had a price)."""
    cost = None if a.cost_usd is None and b.cost_usd is None else (a.cost_usd or 0.0) + (b.cost_usd or 0.0)
    return UsageTotals(
        tokens=add_tokens(a.tokens, b.tokens),
        cost_usd=cost,
        requests=a.requests + b.requests,
        tool_calls=a.tool_calls + b.tool_calls,
    )


def no_room_left(limits: RunLimits, used: UsageTotals) -> LimitName | None:
    """The limit that leaves no room for one more model request, for a request the runtime sends itself
    (the clean answer's): as pydantic-ai's `check_before_request` refuses the next step, and as
    `remaining_limits` and `loop.execute` refuse a segment when no token or cent is left."""
    if used.requests >= limits.max_steps:
        return "max_steps"
    if used.tokens.total >= limits.max_tokens:
        return "max_tokens"
    if (used.cost_usd or 0.0) >= limits.max_cost_usd:
        return "max_cost_usd"
    return None


def remaining_limits(limits: RunLimits, spent: UsageTotals) -> tuple[UsageLimits, LimitName | None]:
    """The limits for this segment, or the limit already used up by earlier segments."""
    steps = limits.max_steps - spent.requests
    calls = limits.max_tool_calls - spent.tool_calls
    tokens = limits.max_tokens - spent.tokens.total
    if steps <= 0:
        return UsageLimits(), "max_steps"
    if tokens <= 0:
        return UsageLimits(), "max_tokens"
    if calls < 0:
        return UsageLimits(), "max_tool_calls"
    return UsageLimits(request_limit=steps, tool_calls_limit=calls, total_tokens_limit=tokens), None


_PYDANTIC_AI_LIMITS: dict[str, LimitName] = {
    "request_limit": "max_steps",
    "tool_calls_limit": "max_tool_calls",
    "total_tokens_limit": "max_tokens",
}


def limit_named(message: str) -> LimitName | None:
    """Which of our limits a `UsageLimitExceeded` message names."""
    for theirs, ours in _PYDANTIC_AI_LIMITS.items():
        if theirs in message:
            return ours
    return None
