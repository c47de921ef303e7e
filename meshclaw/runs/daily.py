"""An agent's daily caps on cost and tokens (`daily.max_cost_usd`, `daily.max_tokens`, per UTC day).

What the agent spent today is summed from its runs' model-call steps (`run_steps`), which the runs layer
writes as each call is reported: that includes runs still going, and needs neither the metering writer
nor its rollups to have caught up. (Runs are found by the day they were created in; a run that crosses
midnight counts in the day it started.)

Enforced twice: before a run is queued (the guards skip it once the day's spend reached a cap), and
during a run, whose per-run limits are narrowed to what is left of the day when it begins (`narrowed`).
Runs of one agent that overlap each get what was left when they began, so together they can pass a cap
by at most what one run may spend; agents that do not allow overlap (the default) cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meshclaw.agents.runtime.contract import LimitName, RunResult
from meshclaw.agents.spec import AgentSpec
from meshclaw.db.models import Run, RunStep


@dataclass(frozen=True, kw_only=True)
class Spent:
    cost_usd: float = 0.0
    tokens: int = 0


def day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def spent_today(session: Session, agent_id: int, now: datetime) -> Spent:
    """The agent's cost and tokens in runs created since the start of today (UTC)."""
    row = session.execute(
        select(
            func.coalesce(func.sum(RunStep.cost_usd), 0.0),
            func.coalesce(func.sum(RunStep.input_tokens + RunStep.output_tokens), 0),
        )
        .select_from(Run)
        .join(RunStep, RunStep.run_id == Run.id)
        .where(Run.agent_id == agent_id, Run.created_at >= day_start(now), RunStep.kind == "model_call")
    ).one()
    return Spent(cost_usd=float(row[0]), tokens=int(row[1]))


def refusal(spec: AgentSpec, spent: Spent) -> str | None:
    """Why no run may start today because of a cap, or None."""
    daily = spec.daily
    if spent.cost_usd >= daily.max_cost_usd:
        return (
            f"the agent reached its daily cap daily.max_cost_usd = {daily.max_cost_usd:g} USD "
            f"(spent {spent.cost_usd:.4f} today, UTC); raise it or wait for tomorrow"
        )
    if spent.tokens >= daily.max_tokens:
        return (
            f"the agent reached its daily cap daily.max_tokens = {daily.max_tokens} "
            f"(used {spent.tokens} today, UTC); raise it or wait for tomorrow"
        )
    return None


@dataclass(frozen=True, kw_only=True)
class Narrowed:
    spec: AgentSpec
    """The spec with per-run cost and token limits cut to what is left of the day."""
    capped: frozenset[LimitName]
    """The per-run limits the daily caps made tighter: if one of these trips, a daily cap was reached."""


def narrowed(spec: AgentSpec, spent: Spent) -> Narrowed:
    limits, daily = spec.limits, spec.daily
    cost_left = daily.max_cost_usd - spent.cost_usd
    tokens_left = daily.max_tokens - spent.tokens
    capped: set[LimitName] = set()
    update: dict[str, float | int] = {}
    if cost_left < limits.max_cost_usd:
        update["max_cost_usd"] = cost_left
        capped.add("max_cost_usd")
    if tokens_left < limits.max_tokens:
        update["max_tokens"] = tokens_left
        capped.add("max_tokens")
    if not update:
        return Narrowed(spec=spec, capped=frozenset())
    # model_copy skips validation on purpose: what is left may be 0, which a spec file may not say.
    cut = spec.model_copy(update={"limits": limits.model_copy(update=update)})
    return Narrowed(spec=cut, capped=frozenset(capped))


def explained(result: RunResult, spec: AgentSpec, capped: frozenset[LimitName]) -> RunResult:
    """A run stopped by a per-run limit the daily caps had narrowed reports the daily cap it reached."""
    if result.status != "budget_exceeded" or result.limit not in capped:
        return result
    if result.limit == "max_cost_usd":
        cap = f"daily.max_cost_usd = {spec.daily.max_cost_usd:g} USD"
    else:
        cap = f"daily.max_tokens = {spec.daily.max_tokens}"
    return replace(result, error=f"the agent reached its daily cap {cap} (per UTC day) during this run")
