"""The guards a run must pass before it is queued, against runaway cost: no kill switch covers the agent,
it is enabled, under its daily caps (runs, cost, tokens), not already running (unless it allows overlap,
then under the per-agent concurrency), and its trigger's condition holds.

A refused run is still recorded, with status `skipped` and the reason, so an owner can see why their agent
did not act. Conditions are answered by pluggable checkers (the calendar connector answers
`owner_in_meeting`); a condition nobody answers skips the run rather than guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from meshclaw.agents.spec import AgentSpec
from meshclaw.runs import daily, kill_switches, store


class ConditionChecker(Protocol):
    def __call__(self, *, owner_user_id: int, now: datetime) -> bool:
        """Whether the condition holds now for this owner. Raise to say it cannot tell (the run is skipped)."""
        ...


@dataclass(kw_only=True)
class Conditions:
    """Condition name -> checker. Connectors register theirs when they start."""

    checkers: dict[str, ConditionChecker] = field(default_factory=dict)

    def register(self, name: str, checker: ConditionChecker) -> None:
        self.checkers[name] = checker

    def refusal(self, name: str, *, owner_user_id: int, now: datetime) -> str | None:
        """None when the condition holds; otherwise why the run is skipped."""
        checker = self.checkers.get(name)
        if checker is None:
            return f"condition '{name}' cannot be checked: no connector answers it (connect one, e.g. a calendar)"
        try:
            holds = checker(owner_user_id=owner_user_id, now=now)
        except Exception as exc:  # a connector's failure must skip the run, not crash the trigger loop
            return f"condition '{name}' could not be checked: {exc}"
        return None if holds else f"condition '{name}' does not hold"


def refusal(
    session: Session,
    *,
    org_id: int,
    agent_id: int,
    owner_user_id: int,
    enabled: bool,
    spec: AgentSpec,
    now: datetime,
    agent_concurrency: int,
) -> str | None:
    """Why a new run of this agent may not start now, or None. Conditions are checked separately."""
    switched = kill_switches.refusal(session, org_id=org_id, agent_id=agent_id, owner_user_id=owner_user_id)
    if switched is not None:
        return switched
    if not enabled:
        return "the agent is disabled"
    done = store.runs_since(session, agent_id, daily.day_start(now))
    if done >= spec.daily.max_runs:
        return f"the agent reached its limit of {spec.daily.max_runs} runs today (UTC); raise daily.max_runs"
    capped = daily.refusal(spec, daily.spent_today(session, agent_id, now))
    if capped is not None:
        return capped
    active = store.active_runs(session, agent_id)
    if not spec.allow_overlap and active:
        return "a run of this agent is still going and the agent does not allow overlap"
    if active >= agent_concurrency:
        return f"{active} runs of this agent are going, the most one agent may have at once"
    return None
