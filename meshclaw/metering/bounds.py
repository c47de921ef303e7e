"""What one event may claim: token counts, a cost and an outcome's quantities, kept within what the rollups
can add up and the database can store.

Every number here comes from outside: an upstream's usage object (a misbehaving OpenAI-compatible server),
an OTLP export (any holder of an ingest key; JSON OTLP accepts "Infinity" and integers past 64 bits), an
imported report. Before these bounds, one event with 2**63 tokens or an infinite cost was refused by the
database at every attempt, and the batch holding it, with every event recorded after it, was retried
forever: metering stopped for the whole organization, and the crash journal replayed it after a restart.

Out-of-range values are clamped (a token count to `MAX_TOKENS`, a cost to `MAX_COST_USD`; negative ones
and NaN to 0 or none) rather than dropped, so the call still counts; the event's attributes say so
(`meshclaw.clamped`) and a warning names the source. Limits sit far above any real call (a million-token
context is 10**6) and far below overflow: 9 million events at the limit fit in one rollup cell.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from meshclaw.metering.events import OutcomeEvent, TokenBuckets, UsageEvent

log = logging.getLogger("meshclaw.metering")

MAX_TOKENS = 2**40 - 1
"""Per bucket and event: about 1.1 * 10**12 tokens."""
MAX_COST_USD = 1_000_000.0
"""Per event."""
MAX_QUANTITY = 1e12
"""An outcome's quantity (lines, commits) or minutes saved."""
CLAMPED = "meshclaw.clamped"


def usage_in_bounds(event: UsageEvent) -> bool:
    """Whether the event needs no clamping: one expression, as this runs for every model call. The OR of
    non-negative ints is below 2**40 exactly when each is; a negative one makes it negative."""
    t = event.tokens
    cost = event.cost_usd
    try:
        counts = t.input_uncached | t.cache_read | t.cache_write | t.output | t.reasoning
    except TypeError:  # a float or something else where an int belongs
        return False
    return 0 <= counts <= MAX_TOKENS and (cost is None or 0.0 <= cost <= MAX_COST_USD)  # (NaN fails both)


def clamp_usage(event: UsageEvent) -> None:
    """Bring an event that `usage_in_bounds` refused within bounds, in place, and say so."""
    t = event.tokens
    event.tokens = TokenBuckets(**{name: _tokens(getattr(t, name)) for name in _BUCKETS})
    event.cost_usd = _amount(event.cost_usd, MAX_COST_USD)
    event.attributes = {**(event.attributes or {}), CLAMPED: True}
    log.warning(
        "usage event %s from %s (client %s) claimed tokens or a cost out of range; clamped",
        event.event_id, event.source, event.client,
    )  # fmt: skip


def clamp_outcome(event: OutcomeEvent) -> bool:
    """An outcome's quantity and minutes saved, within bounds (NaN and infinities are not numbers here);
    whether anything was clamped."""
    quantity = _amount(event.quantity, MAX_QUANTITY, negative=True)
    minutes = _amount(event.minutes_saved, MAX_QUANTITY, negative=True)
    if quantity == event.quantity and minutes == event.minutes_saved:
        return False
    event.quantity = 0.0 if quantity is None else quantity
    event.minutes_saved = minutes
    event.attributes = {**(event.attributes or {}), CLAMPED: True}
    log.warning(
        "outcome event %s from %s claimed a quantity out of range; clamped", event.event_id, event.source
    )
    return True


_BUCKETS = ("input_uncached", "cache_read", "cache_write", "output", "reasoning")


def _tokens(value: Any) -> int:
    if isinstance(value, float):
        value = int(value) if math.isfinite(value) else (MAX_TOKENS if value > 0 else 0)
    return min(max(0, value), MAX_TOKENS) if isinstance(value, int) else 0


def _amount(value: Any, limit: float, *, negative: bool = False) -> Any:
    """`value` within [0 or -limit, limit]; None stays None and NaN becomes None."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    low = -limit if negative else 0.0
    return value if low <= value <= limit else min(max(value, low), limit)
