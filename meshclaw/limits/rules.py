"""What a limit is, in memory: the vocabulary (units, periods, hard or soft) and one loaded `Rule`.

A rule is a row of the `budgets` table plus the name of its subject, so a refusal can say whose limit it
was ("user ada@example.org") without touching the database on the request path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SubjectType = Literal["api_key", "user", "team", "agent"]
Unit = Literal["usd", "tokens", "requests", "concurrent"]
Period = Literal["minute", "day", "week", "month", ""]
"""'' only for `concurrent` (a limit on calls in flight has no period)."""
Enforcement = Literal["hard", "soft"]

SUBJECT_TYPES: tuple[SubjectType, ...] = ("api_key", "user", "team", "agent")
UNITS: tuple[Unit, ...] = ("usd", "tokens", "requests", "concurrent")
ENFORCEMENTS: tuple[Enforcement, ...] = ("hard", "soft")

ALLOWED_PERIODS: dict[Unit, tuple[Period, ...]] = {
    "usd": ("day", "week", "month"),
    "tokens": ("minute", "day", "week", "month"),
    "requests": ("minute",),
    "concurrent": ("",),
}
"""Which periods each unit may have: budgets are calendar periods, rate limits a sliding minute."""

MICROUSD_PER_USD = 1_000_000


def is_rate_limit(unit: Unit, period: Period) -> bool:
    """Per-minute and concurrency limits are always hard: a soft rate limit would alert on every burst."""
    return period in ("minute", "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    id: int
    subject_type: SubjectType
    subject_id: int
    unit: Unit
    period: Period
    enforcement: Enforcement
    amount: int
    """Micro-USD for `usd`; tokens, requests or calls in flight otherwise."""
    scope: str
    """Whose limit, for messages: "user ada@example.org", "team Platform", "API key 'ci'", "agent 7"."""


def quantity(unit: Unit, amount: int) -> str:
    """An amount in its unit: "5.00 USD" (from micro-USD), "1,000 tokens"."""
    if unit == "usd":
        return f"{amount / MICROUSD_PER_USD:,.2f} USD"
    return f"{amount:,} {'concurrent requests' if unit == 'concurrent' else unit}"


def describe(unit: Unit, period: Period, amount: int, *, enforcement: Enforcement) -> str:
    """The limit as a person reads it: "hard budget of 5.00 USD per day", "60 requests per minute"."""
    if unit == "concurrent":
        return quantity(unit, amount)
    if period == "minute":
        return f"{quantity(unit, amount)} per minute"
    return f"{enforcement} budget of {quantity(unit, amount)} per {period} (UTC)"


def scope_label(subject_type: SubjectType, subject_id: int, name: str | None) -> str:
    if subject_type == "api_key":
        return f"API key '{name}'" if name else f"API key {subject_id}"
    if subject_type == "user":
        return f"user {name}" if name else f"user {subject_id}"
    if subject_type == "team":
        return f"team {name}" if name else f"team {subject_id}"
    return f"agent {name}" if name else f"agent {subject_id}"
