"""The labelled behaviours of simulated people and agents, and the numbers that make each one.

Each behaviour is one pattern from the gaming-signal catalogue (research/metering.md (c)) or an honest
baseline to tell them from. Genuine heavy users burn as many tokens as most tokenmaxxers, on purpose: a
detector that flags volume instead of low yield, repetition, cadence and so on must fail on this data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PersonLabel = Literal[
    "genuine_heavy",
    "moderate",
    "light",
    "non_user",
    "tokenmaxxer_repetition",
    "tokenmaxxer_scripted",
    "tokenmaxxer_read_only",
    "tokenmaxxer_period_spikes",
    "tokenmaxxer_target_bunching",
    "tokenmaxxer_retry_loop",
    "tokenmaxxer_fan_out",
    "tokenmaxxer_discards",
]
AgentLabel = Literal["productive_agent", "runaway_agent"]
Label = PersonLabel | AgentLabel

PERSON_SHARES: dict[PersonLabel, float] = {
    "genuine_heavy": 0.12,
    "light": 0.22,
    "non_user": 0.14,
    "tokenmaxxer_repetition": 0.03,
    "tokenmaxxer_scripted": 0.03,
    "tokenmaxxer_read_only": 0.03,
    "tokenmaxxer_period_spikes": 0.03,
    "tokenmaxxer_target_bunching": 0.03,
    "tokenmaxxer_retry_loop": 0.03,
    "tokenmaxxer_fan_out": 0.03,
    "tokenmaxxer_discards": 0.03,
}
"""Share of the people per behaviour (at least one person each); everyone else is `moderate`."""

AGENTS_PER_PERSON = 1 / 40
RUNAWAY_SHARE = 0.25
"""One agent per 40 people (at least two), a quarter of them runaway."""

WEEKLY_TARGET_EFFECTIVE_TOKENS = 3_000_000
"""The usage target the organization published: a minimum of effective tokens per person and week (as
the spend minimums of section 7, in effective tokens so a model's price does not move it);
`tokenmaxxer_target_bunching` people land just above it every week."""


Cadence = Literal["human", "regular", "fan_out"]


@dataclass(frozen=True, kw_only=True)
class Profile:
    weekday_activity: float
    """Probability of using AI on a given workday."""
    weekend_activity: float
    sessions: tuple[int, int]
    calls_per_session: tuple[int, int]
    context: float = 1.0
    """Multiplier on input and cache tokens (1.0: a normal coding session)."""
    output: float = 1.0
    prompt_pool: int | None = None
    """How many distinct prompts the person sends (None: every prompt is new)."""
    error_rate: float = 0.02
    commits_per_call: float = 0.0
    prs_per_commit: float = 0.3
    merge_rate: float = 0.8
    edits_per_call: float = 0.0
    accept_rate: float = 0.8
    cadence: Cadence = "human"
    read_only: bool = False
    period_spikes: bool = False
    bunching: bool = False


PROFILES: dict[PersonLabel, Profile] = {
    "genuine_heavy": Profile(weekday_activity=0.95, weekend_activity=0.08, sessions=(2, 3), calls_per_session=(2, 5),
                             context=2.0, output=2.0, commits_per_call=0.4, prs_per_commit=0.3, merge_rate=0.85,
                             edits_per_call=0.5, accept_rate=0.86),
    "moderate": Profile(weekday_activity=0.5, weekend_activity=0.02, sessions=(1, 2), calls_per_session=(1, 3),
                        context=1.2, commits_per_call=0.25, edits_per_call=0.4, accept_rate=0.8),
    "light": Profile(weekday_activity=0.2, weekend_activity=0.0, sessions=(1, 1), calls_per_session=(1, 2),
                     context=0.8, commits_per_call=0.1, edits_per_call=0.3, accept_rate=0.75),
    "non_user": Profile(weekday_activity=0.0, weekend_activity=0.0, sessions=(0, 0), calls_per_session=(0, 0)),
    "tokenmaxxer_repetition": Profile(weekday_activity=0.95, weekend_activity=0.2, sessions=(2, 3),
                                      calls_per_session=(3, 5), context=2.5, output=0.8, prompt_pool=3,
                                      commits_per_call=0.01, edits_per_call=0.03, accept_rate=0.5),
    "tokenmaxxer_scripted": Profile(weekday_activity=1.0, weekend_activity=1.0, sessions=(1, 1),
                                    calls_per_session=(0, 0), context=2.0, output=0.8, prompt_pool=4,
                                    cadence="regular"),
    "tokenmaxxer_read_only": Profile(weekday_activity=0.9, weekend_activity=0.05, sessions=(2, 3),
                                     calls_per_session=(3, 5), context=4.0, output=0.4, read_only=True),
    "tokenmaxxer_period_spikes": Profile(weekday_activity=0.45, weekend_activity=0.0, sessions=(1, 1),
                                         calls_per_session=(1, 3), context=2.0, commits_per_call=0.04,
                                         edits_per_call=0.15, accept_rate=0.6, period_spikes=True),
    "tokenmaxxer_target_bunching": Profile(weekday_activity=0.8, weekend_activity=0.0, sessions=(1, 2),
                                           calls_per_session=(2, 5), context=2.0, commits_per_call=0.05,
                                           edits_per_call=0.15, accept_rate=0.65, bunching=True),
    "tokenmaxxer_retry_loop": Profile(weekday_activity=0.85, weekend_activity=0.1, sessions=(2, 3),
                                      calls_per_session=(2, 4), context=2.2, output=0.8, error_rate=0.3,
                                      commits_per_call=0.02, edits_per_call=0.08, accept_rate=0.6),
    "tokenmaxxer_fan_out": Profile(weekday_activity=0.8, weekend_activity=0.1, sessions=(6, 9),
                                   calls_per_session=(2, 3), context=2.5, cadence="fan_out"),
    "tokenmaxxer_discards": Profile(weekday_activity=0.9, weekend_activity=0.05, sessions=(2, 3),
                                    calls_per_session=(2, 4), context=1.5, output=2.5, commits_per_call=0.02,
                                    edits_per_call=1.2, accept_rate=0.12),
}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class AgentProfile:
    runs_per_hour: float
    """Runs started per hour while the agent is on duty."""
    all_hours: bool
    calls_per_run: tuple[int, int]
    context: float
    error_rate: float
    outcome_per_run: float
    accept_rate: float


AGENT_PROFILES: dict[AgentLabel, AgentProfile] = {
    "productive_agent": AgentProfile(runs_per_hour=1.0, all_hours=False, calls_per_run=(1, 2), context=0.6,
                                     error_rate=0.02, outcome_per_run=0.9, accept_rate=0.88),
    "runaway_agent": AgentProfile(runs_per_hour=1.0, all_hours=True, calls_per_run=(2, 3), context=3.0,
                                  error_rate=0.12, outcome_per_run=0.02, accept_rate=0.2),
}  # fmt: skip

AGENT_PURPOSES: dict[str, tuple[str, float]] = {
    "inbox-triage": ("email.triaged", 3.0),
    "ticket-drafter": ("ticket.drafted", 12.0),
    "weekly-report": ("report.compiled", 25.0),
    "deploy-checker": ("deployment.checked", 8.0),
    "meeting-notes": ("notes.summarized", 10.0),
}
"""Agent purpose -> (outcome type, minutes saved by one accepted outcome)."""
