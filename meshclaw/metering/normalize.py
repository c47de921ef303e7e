"""Provider usage objects into exclusive token buckets.

Each provider counts differently (research/metering.md §4): OpenAI's `prompt_tokens`/`input_tokens`
include cached tokens and its `completion_tokens`/`output_tokens` include reasoning; Anthropic reports
`input_tokens` already without cache reads and writes; OTel's `gen_ai.usage.input_tokens` includes both.
Negative results (inconsistent upstream counts) are clamped to zero rather than stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from meshclaw.db.row_ids import is_digits
from meshclaw.metering.events import TokenBuckets


def _int(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, float):  # (json reads Infinity and NaN; int() of either raises)
        return max(0, int(value)) if math.isfinite(value) else 0
    if isinstance(value, str) and is_digits(value.strip()):
        return int(value.strip())
    return 0


def _details(usage: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = usage.get(key)
    return value if isinstance(value, Mapping) else {}


def from_openai(usage: Mapping[str, Any]) -> TokenBuckets:
    """Chat Completions (`prompt_tokens`…) and Responses (`input_tokens`…) usage; embeddings too."""
    if "input_tokens" in usage or "output_tokens" in usage:
        total_in, total_out = _int(usage.get("input_tokens")), _int(usage.get("output_tokens"))
        cached = _int(_details(usage, "input_tokens_details").get("cached_tokens"))
        reasoning = _int(_details(usage, "output_tokens_details").get("reasoning_tokens"))
    else:
        total_in, total_out = _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
        cached = _int(_details(usage, "prompt_tokens_details").get("cached_tokens"))
        reasoning = _int(_details(usage, "completion_tokens_details").get("reasoning_tokens"))
    cached = min(cached, total_in)
    reasoning = min(reasoning, total_out)
    return TokenBuckets(
        input_uncached=total_in - cached, cache_read=cached, output=total_out - reasoning, reasoning=reasoning
    )


def from_anthropic(usage: Mapping[str, Any]) -> TokenBuckets:
    """Messages API usage: `input_tokens` excludes `cache_read_input_tokens` and `cache_creation_input_tokens`."""
    return TokenBuckets(
        input_uncached=_int(usage.get("input_tokens")),
        cache_read=_int(usage.get("cache_read_input_tokens")),
        cache_write=_int(usage.get("cache_creation_input_tokens")),
        output=_int(usage.get("output_tokens")),
    )


def from_inclusive(
    *, input_total: int, output_total: int, cache_read: int = 0, cache_write: int = 0, reasoning: int = 0
) -> TokenBuckets:
    """Counts where input includes cache reads and writes and output includes reasoning (OTel GenAI)."""
    cache_read, cache_write = max(0, cache_read), max(0, cache_write)
    reasoning = min(max(0, reasoning), max(0, output_total))
    return TokenBuckets(
        input_uncached=max(0, input_total - cache_read - cache_write),
        cache_read=cache_read,
        cache_write=cache_write,
        output=max(0, output_total) - reasoning,
        reasoning=reasoning,
    )
