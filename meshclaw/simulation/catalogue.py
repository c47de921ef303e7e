"""The models simulated people call, with list prices (USD per million tokens) and how their provider
counts tokens, so gateway events carry a provider-shaped raw usage object."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Counting = Literal["anthropic", "openai"]


@dataclass(frozen=True, kw_only=True)
class Model:
    name: str
    provider: str
    counting: Counting
    input: float
    output: float
    cache_read: float
    cache_write: float
    reasoning: bool
    """The model thinks (reasoning tokens are billed as output)."""
    weight: float
    """Price class relative to a mid-size model (the "model multiplier" of effective tokens)."""

    def cost_usd(
        self, *, uncached: int, cache_read: int, cache_write: int, output: int, reasoning: int
    ) -> float:
        return (
            uncached * self.input
            + cache_read * self.cache_read
            + cache_write * self.cache_write
            + (output + reasoning) * self.output
        ) / 1_000_000

    def effective_tokens(
        self, *, uncached: int, cache_read: int, cache_write: int, output: int, reasoning: int
    ) -> float:
        """Effective tokens (research/metering.md section 6): buckets weighed by list-price ratios to
        uncached input (cache read 0.1, cache write 1.25, output and reasoning 4), times the model's
        weight. The organization's published usage target is in these units."""
        return self.weight * (uncached + 0.1 * cache_read + 1.25 * cache_write + 4 * (output + reasoning))


MODELS: dict[str, Model] = {
    model.name: model
    for model in (
        Model(name="claude-sonnet-4-5", provider="anthropic", counting="anthropic", input=3.0, output=15.0,
              cache_read=0.3, cache_write=3.75, reasoning=False, weight=1.0),
        Model(name="claude-opus-4-1", provider="anthropic", counting="anthropic", input=15.0, output=75.0,
              cache_read=1.5, cache_write=18.75, reasoning=False, weight=5.0),
        Model(name="claude-haiku-4-5", provider="anthropic", counting="anthropic", input=1.0, output=5.0,
              cache_read=0.1, cache_write=1.25, reasoning=False, weight=0.25),
        Model(name="gpt-5", provider="openai", counting="openai", input=1.25, output=10.0,
              cache_read=0.125, cache_write=1.25, reasoning=True, weight=1.0),
        Model(name="gpt-5-mini", provider="openai", counting="openai", input=0.25, output=2.0,
              cache_read=0.025, cache_write=0.25, reasoning=True, weight=0.25),
    )
}  # fmt: skip

CODING_MODELS = (
    "claude-sonnet-4-5",
    "claude-sonnet-4-5",
    "claude-sonnet-4-5",
    "claude-opus-4-1",
    "claude-haiku-4-5",
)
OPENAI_MODELS = ("gpt-5", "gpt-5", "gpt-5-mini")
