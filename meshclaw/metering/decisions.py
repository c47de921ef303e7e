"""Accept/reject decisions reported as counts, as outcome quantities.

Outcome rollups count accepted and rejected *events*, so a count of N decisions becomes N events of
quantity 1 (ids `base:0`…), up to a cap; a count above the cap puts the remainder on the last event, so
quantities still add up to N.
"""

from __future__ import annotations

DECISION_EVENT_CAP = 1000


def decision_quantities(total: float, *, cap: int = DECISION_EVENT_CAP) -> list[float]:
    whole = int(total)
    if whole <= 0:
        return []
    if whole <= cap:
        return [1.0] * whole
    return [1.0] * (cap - 1) + [float(whole - cap + 1)]
