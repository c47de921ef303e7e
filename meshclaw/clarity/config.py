"""Clarity's settings: the adoption goal, what counts as "active", minutes saved per outcome type.

Stored per organization (`clarity_settings`); an organization that never saved any gets `DEFAULTS`.
Only admins change them (`authorize`: `clarity_settings`/`manage`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_MINUTES_SAVED: dict[str, float] = {
    # Per outcome (per event, or per accepted decision); a source that reports minutes on the event wins.
    # Conservative guesses to be tuned per organization: a PR or a commit written with an assistant,
    # an accepted edit, an email triaged.
    "pull_request.created": 30.0,
    "commit.created": 10.0,
    "code_edit.decided": 2.0,
    "code_suggestion.decided": 0.5,
    "tab_completion.decided": 0.1,
    "tool_call.decided": 1.0,
    "email.triaged": 2.0,
}


@dataclass(frozen=True, kw_only=True)
class ClarityConfig:
    weekly_goal: float = 0.8
    """Share of people (0 to 1] who should be active each week."""
    active_min_days: int = 2
    """Active: human-initiated AI use on at least this many UTC days of the week ..."""
    active_min_accepted: int = 1
    """... or at least this many accepted outcomes (0 turns this alternative off)."""
    minutes_saved: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MINUTES_SAVED))
    """Estimated minutes saved per outcome of each type; types not listed count 0."""
    weekly_token_target: int | None = None
    """A published weekly effective-token target, if the organization has one: the detector looks for
    people landing just above it. None: the peers' mean of the previous week stands in."""


DEFAULTS = ClarityConfig()
