"""The detector's answer: a flag per suspicious person or agent and week, with the signals behind it.

Plain frozen dataclasses, so the simulator can compare them and the API can shape them without the
database. A flag says *why* (each signal's value against the peer baseline) and *where to look*
(evidence links to the usage listing), because it is an invitation to review, never a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

FlagKind = Literal["person", "agent"]
FLAG_KINDS: tuple[FlagKind, ...] = ("person", "agent")


@dataclass(frozen=True, kw_only=True)
class Signal:
    name: str
    """One of `signals.SIGNAL_NAMES`, e.g. `low_yield`, `prompt_repetition`."""
    value: float
    """The subject's measurement this week (a ratio, a share, a multiple: see `description`)."""
    baseline: float
    """The same measurement for peers (the median of everyone measured this week), or the fixed bar."""
    description: str
    """What was measured, in words, with the numbers."""


@dataclass(frozen=True, kw_only=True)
class Flag:
    week_start: date
    """The Monday of the week scored."""
    kind: FlagKind
    subject: str
    """A person's email, or an agent's name."""
    user_id: int | None
    """The person (for an agent: the person it acts for, when known)."""
    agent_id: int | None
    score: float
    """Sum of the fired signals' weights; a flag needs at least 1.0 (see `scoring.py`)."""
    signals: tuple[Signal, ...]
    explanation: str
    evidence: tuple[str, ...] = field(default=())
    """Relative links to the records behind the flag (usage listing for the subject and week)."""

    @property
    def subject_key(self) -> str:
        """`person:<user id>` or `agent:<agent id>`: who a review and a dismissal are about."""
        return f"{self.kind}:{self.agent_id if self.kind == 'agent' else self.user_id}"

    @property
    def pattern(self) -> str:
        """The fired signal names, sorted and joined: what a dismissal suppresses for this subject."""
        return ",".join(sorted(signal.name for signal in self.signals))
