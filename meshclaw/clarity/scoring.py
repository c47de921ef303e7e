"""From fired signals to a flag: a weighted sum, damped for subjects whose outcomes keep pace.

score = the sum of the fired signals' weights (`signals.WEIGHTS`), where every signal except
`low_yield` counts half when the subject's yield (outcomes per 1,000 effective tokens) is at or above
the peer median: a productive person who repeats prompts or runs a script is not gaming, and needs
more than one such signal to be looked at. A flag needs `FLAG_THRESHOLD`: `low_yield` alone, or two
other signals (four for a productive subject).
"""

from __future__ import annotations

from collections.abc import Sequence

from meshclaw.clarity.features import SubjectWeek
from meshclaw.clarity.flags import Signal
from meshclaw.clarity.signals import WEIGHTS, Peers

FLAG_THRESHOLD = 1.0


def score(subject: SubjectWeek, peers: Peers, fired: Sequence[Signal]) -> float:
    productive = peers.median_yield > 0 and subject.yield_per_1k >= peers.median_yield
    total = 0.0
    for signal in fired:
        weight = WEIGHTS[signal.name]
        total += weight if signal.name == "low_yield" or not productive else weight / 2
    return round(total, 3)
