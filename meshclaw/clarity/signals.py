"""The signals of tokenmaxxing and low-value use, each a rule over one subject's week against peers.

Peers are every subject of the same kind (people, or agents) in the organization that week with at
least `MIN_EFFECTIVE_TOKENS`; a baseline is the peers' median (robust to the very outliers we look for).
Each rule fires only with enough data to judge, and only on *waste relative to what was achieved*:
volume alone never fires anything, so a heavy user whose outcomes keep pace with their tokens stays
clear. Weights (`WEIGHTS`) feed `scoring.py`: `low_yield` alone makes a flag; the others need company.

Catalogue (research/metering.md (c)) and what is computed here:
  1 outcome yield per token       low_yield (heavy use), below_peer_yield (average use, weaker)
  2 prompt repetition             prompt_repetition
  3 machine-regular cadence       machine_cadence (gap regularity, or calls in 18+ hours a day)
  5 read-only sessions            read_only (tool results: reads vs writes, no outcome)
  6 discard rate                  discard_rate (rejected / decided)
 10 end-of-period spikes          month_end_spike (last three days of a month vs own daily median),
                                 week_end_spike (Friday, before a weekly snapshot, vs own usual weekday)
 11 bunching above a target       target_bunching (3 of the last 5 weeks within +15% above the target)
 12 fan-out without outcomes      fan_out (peak concurrent sessions, no outcome)
 13 retry and error loops         error_loop (labelled waste, not gaming)
 14 automation on a personal key  personal_key_automation
Not computed: 4 (human-in-the-loop ratio: user_prompt events are not yet joined to calls), 7 (abandoned
sessions need outcomes per session, which rollups do not keep), 8 and 9 (context stuffing and model
inflation need per-model peer baselines; left for later), response hashes (not recorded).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from meshclaw.clarity.config import ClarityConfig
from meshclaw.clarity.features import SubjectWeek
from meshclaw.clarity.flags import Signal

MIN_EFFECTIVE_TOKENS = 20_000.0
"""Below this a week's use is too small to judge (and too small to matter)."""

WEIGHTS: dict[str, float] = {
    "low_yield": 1.0,
    "below_peer_yield": 0.5,
    "prompt_repetition": 0.5,
    "machine_cadence": 0.5,
    "personal_key_automation": 0.5,
    "read_only": 0.5,
    "discard_rate": 0.5,
    "month_end_spike": 0.5,
    "week_end_spike": 0.5,
    "target_bunching": 0.5,
    "fan_out": 0.5,
    "error_loop": 0.5,
}
SIGNAL_NAMES: tuple[str, ...] = tuple(WEIGHTS)


def _median(values: Iterable[float]) -> float:
    items = list(values)
    return statistics.median(items) if items else 0.0


def _quantile(values: Iterable[float], q: float) -> float:
    items = sorted(values)
    if not items:
        return 0.0
    return items[min(len(items) - 1, int(q * len(items)))]


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


@dataclass(frozen=True, kw_only=True)
class Peers:
    count: int
    median_yield: float
    heavy_tokens: float
    """The 75th percentile of effective tokens: 'heavy use' for the yield rule."""
    median_tokens: float
    median_repetition: float
    median_cv: float
    median_read_share: float
    median_discard: float
    median_error_rate: float
    previous_week_mean: float

    @staticmethod
    def of(subjects: Iterable[SubjectWeek]) -> Peers:
        judged = [s for s in subjects if s.effective_tokens >= MIN_EFFECTIVE_TOKENS]
        return Peers(
            count=len(judged),
            median_yield=_median(s.yield_per_1k for s in judged),
            heavy_tokens=_quantile((s.effective_tokens for s in judged), 0.75),
            median_tokens=_median(s.effective_tokens for s in judged),
            median_repetition=_median(
                _share(s.repeated_prompts, s.hashed_requests) for s in judged if s.hashed_requests
            ),
            median_cv=_median(cv for s in judged if (cv := s.cadence_cv) is not None),
            median_read_share=_median(
                _share(s.read_tools, s.read_tools + s.write_tools)
                for s in judged
                if s.read_tools + s.write_tools
            ),
            median_discard=_median(
                _share(s.rejected, s.accepted + s.rejected) for s in judged if s.accepted + s.rejected
            ),
            median_error_rate=_median(_share(s.errors, s.requests) for s in judged),
            previous_week_mean=statistics.fmean(
                [s.weekly_history[-2] for s in judged if len(s.weekly_history) >= 2 and s.weekly_history[-2]]
                or [0.0]
            ),
        )


Rule = Callable[[SubjectWeek, Peers, ClarityConfig], Signal | None]


def low_yield(s: SubjectWeek, peers: Peers, config: ClarityConfig) -> Signal | None:
    # Judged only when peers show outcomes at all: with no outcome source connected, everyone's yield
    # is 0 and nobody is worse than their peers.
    if (
        peers.count < 3
        or peers.median_yield <= 0
        or s.effective_tokens < max(MIN_EFFECTIVE_TOKENS, peers.heavy_tokens)
    ):
        return None
    if s.yield_per_1k > peers.median_yield / 4:
        return None
    return Signal(
        name="low_yield",
        value=round(s.yield_per_1k, 4),
        baseline=round(peers.median_yield, 4),
        description=(
            f"{s.value_units:g} outcomes for {s.effective_tokens:,.0f} effective tokens (among the heaviest "
            f"quarter): {s.yield_per_1k:.3f} per 1,000 vs the peer median {peers.median_yield:.3f}"
        ),
    )


def below_peer_yield(s: SubjectWeek, peers: Peers, config: ClarityConfig) -> Signal | None:
    """The weaker tier of `low_yield`: at least the median use (not the heaviest quarter) with under a
    third of the peers' yield. Alone it flags nobody; it gives company to a pattern signal (discards,
    a month-end binge, bunching at a target) from someone whose use is not heavy."""
    if peers.count < 3 or peers.median_yield <= 0 or low_yield(s, peers, config) is not None:
        return None
    if s.effective_tokens < max(MIN_EFFECTIVE_TOKENS, peers.median_tokens):
        return None
    if s.yield_per_1k >= peers.median_yield / 3:
        return None
    return Signal(
        name="below_peer_yield",
        value=round(s.yield_per_1k, 4),
        baseline=round(peers.median_yield, 4),
        description=(
            f"{s.value_units:g} outcomes for {s.effective_tokens:,.0f} effective tokens (at least the median "
            f"use): {s.yield_per_1k:.3f} per 1,000 vs the peer median {peers.median_yield:.3f}"
        ),
    )


def prompt_repetition(s: SubjectWeek, peers: Peers, config: ClarityConfig) -> Signal | None:
    if s.hashed_requests < 30:
        return None
    share = _share(s.repeated_prompts, s.hashed_requests)
    if share < 0.5 or share < 3 * peers.median_repetition:
        return None
    return Signal(
        name="prompt_repetition",
        value=round(share, 4),
        baseline=round(peers.median_repetition, 4),
        description=f"{s.repeated_prompts} of {s.hashed_requests} prompts repeated an earlier one this week ({share:.0%})",
    )


def machine_cadence(s: SubjectWeek, peers: Peers, config: ClarityConfig) -> Signal | None:
    if s.kind != "person" or s.requests < 50:
        return None
    cv = s.cadence_cv
    hours_per_day = s.active_hours / s.active_days if s.active_days else 0.0
    if cv is not None and cv <= 0.3:
        return Signal(
            name="machine_cadence",
            value=round(cv, 4),
            baseline=round(peers.median_cv, 4),
            description=f"calls {s.requests} times at near-fixed intervals (variation {cv:.2f} of the mean gap)",
        )
    if hours_per_day >= 18:
        return Signal(
            name="machine_cadence",
            value=round(hours_per_day, 1),
            baseline=18.0,
            description=f"calls in {hours_per_day:.0f} hours of each active day, around the clock",
        )
    return None


def personal_key_automation(s: SubjectWeek, peers: Peers, config: ClarityConfig) -> Signal | None:
    if s.kind != "person" or s.effective_tokens < MIN_EFFECTIVE_TOKENS:
        return None
    share = _share(s.headless_effective_tokens, s.effective_tokens)
    if share < 0.5:
        return None
    return Signal(
        name="personal_key_automation",
        value=round(share, 4),
        baseline=0.5,
        description=f"{share:.0%} of effective tokens came from scripts or headless clients on a personal key, not an agent",
    )


def read_only(s: SubjectWeek, peers: Peers, config: ClarityConfig) -> Signal | None:
    tools = s.read_tools + s.write_tools
    if tools < 20 or s.value_units > 0:
        return None
    share = _share(s.read_tools, tools)
    if share < 0.9:
        return None
    return Signal(
        name="read_only",
        value=round(share, 4),
        baseline=round(peers.median_read_share, 4),
        description=f"{s.read_tools} of {tools} tool calls only read or fetched, with no outcome",
    )


def discard_rate(s: SubjectWeek, peers: Peers, config: ClarityConfig) -> Signal | None:
    decided = s.accepted + s.rejected
    if decided < 10:
        return None
    rate = _share(s.rejected, decided)
    if rate < 0.6 or rate < 2 * peers.median_discard:
        return None
    return Signal(
        name="discard_rate",
        value=round(rate, 4),
        baseline=round(peers.median_discard, 4),
        description=f"{s.rejected} of {decided} proposed edits or suggestions rejected ({rate:.0%})",
    )


def month_end_spike(s: SubjectWeek, peers: Peers, config: ClarityConfig) -> Signal | None:
    if not s.month_end_days or len(s.daily_history) < 5 or s.effective_tokens < MIN_EFFECTIVE_TOKENS:
        return None
    usual = _median(s.daily_history)
    per_day = s.month_end_effective_tokens / s.month_end_days
    if usual <= 0 or per_day < 4 * usual:
        return None
    return Signal(
        name="month_end_spike",
        value=round(per_day / usual, 2),
        baseline=4.0,
        description=f"{per_day:,.0f} effective tokens a day at the month's end, {per_day / usual:.1f}x the usual day",
    )


def week_end_spike(s: SubjectWeek, peers: Peers, config: ClarityConfig) -> Signal | None:
    if len(s.ordinary_day_history) < 3 or s.friday_effective_tokens < MIN_EFFECTIVE_TOKENS / 4:
        return None
    usual = _median(s.ordinary_day_history)
    if usual <= 0 or s.friday_effective_tokens < 4 * usual:
        return None
    ratio = s.friday_effective_tokens / usual
    return Signal(
        name="week_end_spike",
        value=round(ratio, 2),
        baseline=4.0,
        description=f"{s.friday_effective_tokens:,.0f} effective tokens on Friday, {ratio:.1f}x the usual weekday",
    )


def target_bunching(s: SubjectWeek, peers: Peers, config: ClarityConfig) -> Signal | None:
    target = float(config.weekly_token_target or peers.previous_week_mean)
    if target <= 0 or s.kind != "person":
        return None
    above = sum(1 for week in s.weekly_history if target <= week <= target * 1.15)
    if above < 3:
        return None
    return Signal(
        name="target_bunching",
        value=float(above),
        baseline=3.0,
        description=f"{above} of the last {len(s.weekly_history)} weeks landed within 15% above the target of {target:,.0f}",
    )


def fan_out(s: SubjectWeek, peers: Peers, config: ClarityConfig) -> Signal | None:
    if s.peak_sessions < 5 or s.value_units > 0:
        return None
    return Signal(
        name="fan_out",
        value=float(s.peak_sessions),
        baseline=5.0,
        description=f"{s.peak_sessions} sessions running at once ({s.sessions} this week) with no outcome",
    )


def error_loop(s: SubjectWeek, peers: Peers, config: ClarityConfig) -> Signal | None:
    if s.requests < 20:
        return None
    rate = _share(s.errors, s.requests)
    if (rate < 0.3 or rate < 3 * peers.median_error_rate) and s.retry_attempts < 10:
        return None
    return Signal(
        name="error_loop",
        value=round(rate, 4),
        baseline=round(peers.median_error_rate, 4),
        description=f"{s.errors} of {s.requests} calls failed ({s.retry_attempts} late retries): a loop burning tokens (waste, not gaming)",
    )


RULES: tuple[Rule, ...] = (
    low_yield,
    below_peer_yield,
    prompt_repetition,
    machine_cadence,
    personal_key_automation,
    read_only,
    discard_rate,
    month_end_spike,
    week_end_spike,
    target_bunching,
    fan_out,
    error_loop,
)
