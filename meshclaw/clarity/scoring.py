"""From fired signals to a flag: a weighted sum, damped for subjects whose outcomes keep pace.

score = the sum of the fired signals' weights (`signals.WEIGHTS`), where every signal except
`low_yield` counts half when the subject's yield (outcomes per 1,000 effective tokens) is at or above
the peer median: a productive person who repeats prompts or runs a script is not gaming, and needs
more than one such signal to be looked at. A flag needs `FLAG_THRESHOLD`: `low_yield` alone, or two
other signals (four for a productive subject); a severe discard rate (`SEVERE`) counts like `low_yield`.
"""

from __future__ import annotations

from collections.abc import Sequence

from meshclaw.clarity.features import SubjectWeek
from meshclaw.clarity.flags import Signal
from meshclaw.clarity.signals import WEIGHTS, Peers

FLAG_THRESHOLD = 1.0
SEVERE: dict[str, tuple[float, float]] = {"discard_rate": (0.8, 1.0)}
"""Signals that count more from a value on: rejecting 80% or more of proposed edits (people who use the
suggestions they ask for keep 75-90% of them) is the "prototype it, then throw it away" pattern itself."""


def score(subject: SubjectWeek, peers: Peers, fired: Sequence[Signal]) -> float:
    productive = peers.median_yield > 0 and subject.yield_per_1k >= peers.median_yield
    total = 0.0
    for signal in fired:
        weight = WEIGHTS[signal.name]
        if signal.name in SEVERE and signal.value >= SEVERE[signal.name][0]:
            weight = SEVERE[signal.name][1]
        total += weight if signal.name == "low_yield" or not productive else weight / 2
    return round(total, 3)
