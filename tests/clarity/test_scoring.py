"""Scoring alone: weights, the half weight for subjects whose yield keeps pace, and severe discards."""

from __future__ import annotations

from meshclaw.clarity.features import SubjectWeek
from meshclaw.clarity.flags import Signal
from meshclaw.clarity.scoring import score
from meshclaw.clarity.signals import Peers

PEERS = Peers(
    count=10,
    median_yield=0.1,
    heavy_tokens=200_000.0,
    median_tokens=120_000.0,
    median_repetition=0.0,
    median_cv=1.5,
    median_read_share=0.5,
    median_discard=0.2,
    median_error_rate=0.0,
    previous_week_mean=120_000.0,
)


def subject(value_units: float) -> SubjectWeek:
    return SubjectWeek(kind="person", id=1, effective_tokens=100_000.0, value_units=value_units)


def signal(name: str, value: float = 1.0) -> Signal:
    return Signal(name=name, value=value, baseline=0.0, description="")


def test_two_pattern_signals_make_a_flag_unless_the_yield_keeps_pace() -> None:
    fired = [signal("prompt_repetition"), signal("fan_out")]
    assert score(subject(1.0), PEERS, fired) == 1.0  # yield 0.01 per 1k: below the peers
    assert score(subject(20.0), PEERS, fired) == 0.5  # yield 0.2: productive, half weight


def test_a_severe_discard_rate_counts_like_low_yield() -> None:
    assert score(subject(1.0), PEERS, [signal("discard_rate", 0.88)]) == 1.0
    assert score(subject(1.0), PEERS, [signal("discard_rate", 0.65)]) == 0.5
    assert score(subject(20.0), PEERS, [signal("discard_rate", 0.88)]) == 0.5
