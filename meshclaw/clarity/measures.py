"""The two yardsticks every Clarity view shares, as SQL over the rollups: effective tokens and value.

**Effective tokens** weigh each token bucket and model by roughly what it costs to produce, so a cache
read does not count like fresh output: per bucket, relative to uncached input,

    input_uncached 1.0 · cache_read 0.1 · cache_write 1.25 · output 4.0 · reasoning 4.0

(the ratios of typical list prices: cache reads are billed at ~10% of input, cache writes at 125%,
output at 4-5x input), times a model weight by family: `opus` 5, `o1`/`o3` 3, `haiku`/`mini`/`flash`/`nano`
0.25, every other model 1. The weights are fixed and documented rather than read from the price table,
so a price change does not rewrite past effective tokens.

**Value units** count what was achieved: each outcome counts 1, except decisions, where only accepted
ones count (a rejected edit is no value), and lines of code, counted as added lines / 100 (one event per
metric export would otherwise turn a chatty exporter into value). Removed lines count 0.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Float, case, cast, func

from meshclaw.db.models import OutcomeRollup, UsageRollup

BUCKET_WEIGHTS: dict[str, float] = {
    "input_uncached": 1.0,
    "cache_read": 0.1,
    "cache_write": 1.25,
    "output": 4.0,
    "reasoning": 4.0,
}
MODEL_WEIGHTS: tuple[tuple[str, float], ...] = (
    ("opus", 5.0),
    ("o1", 3.0),
    ("o3", 3.0),
    ("haiku", 0.25),
    ("mini", 0.25),
    ("flash", 0.25),
    ("nano", 0.25),
)
"""Substrings of the lower-cased model name, first match wins; others weigh 1."""

LINES_PER_VALUE_UNIT = 100.0


def model_weight(model: str | None) -> float:
    name = (model or "").lower()
    for part, weight in MODEL_WEIGHTS:
        if part in name:
            return weight
    return 1.0


def effective_tokens_of(
    model: str | None, *, input_uncached: int, cache_read: int, cache_write: int, output: int, reasoning: int
) -> float:
    """The Python twin of `effective_tokens()`, for single events and tests."""
    weighted = (
        input_uncached * BUCKET_WEIGHTS["input_uncached"]
        + cache_read * BUCKET_WEIGHTS["cache_read"]
        + cache_write * BUCKET_WEIGHTS["cache_write"]
        + output * BUCKET_WEIGHTS["output"]
        + reasoning * BUCKET_WEIGHTS["reasoning"]
    )
    return weighted * model_weight(model)


def _model_weight_sql() -> ColumnElement[float]:
    lowered = func.lower(UsageRollup.model)
    return case(
        *((lowered.like(f"%{part}%"), weight) for part, weight in MODEL_WEIGHTS),
        else_=1.0,
    )


def effective_tokens() -> ColumnElement[float]:
    """SUM of effective tokens over the `usage_rollups` rows of a query."""
    r = UsageRollup
    weighted = (
        cast(r.input_uncached, Float) * BUCKET_WEIGHTS["input_uncached"]
        + cast(r.cache_read, Float) * BUCKET_WEIGHTS["cache_read"]
        + cast(r.cache_write, Float) * BUCKET_WEIGHTS["cache_write"]
        + cast(r.output, Float) * BUCKET_WEIGHTS["output"]
        + cast(r.reasoning, Float) * BUCKET_WEIGHTS["reasoning"]
    )
    return func.sum(weighted * _model_weight_sql())


def total_tokens() -> ColumnElement[int]:
    r = UsageRollup
    return func.sum(r.input_uncached + r.cache_read + r.cache_write + r.output + r.reasoning)


def value_units() -> ColumnElement[float]:
    """SUM of value units over the `outcome_rollups` rows of a query (see the module docstring)."""
    o = OutcomeRollup
    return func.sum(
        case(
            (o.type == "lines_of_code.added", cast(o.quantity, Float) / LINES_PER_VALUE_UNIT),
            (o.type == "lines_of_code.removed", 0.0),
            else_=cast(o.count - o.rejected, Float),
        )
    )
