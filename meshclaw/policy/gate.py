"""The `ToolGate` the runs engine puts before every tool call: the rules of `policy.rules`, with the
organization's rows for the run's agent.

The rows are read once per run, at its first tool call, and kept for its later calls: a busy run costs no
query per call, and a run decides by one consistent policy. An admin's change applies from the next run;
to stop running agents at once, use the kill switch.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

from meshclaw.agents.runtime.contract import GateDecision, RunInfo, ToolCall
from meshclaw.db.engine import Database
from meshclaw.db.models.agents import Agent
from meshclaw.policy import rules, store
from meshclaw.policy.rules import AgentPolicy


class PolicySource(Protocol):
    async def for_agent(self, run: RunInfo) -> AgentPolicy: ...


@dataclass(frozen=True)
class StaticPolicy:
    """One policy for every agent: tests and benchmarks (AgentDojo) that have no database."""

    policy: AgentPolicy = field(default_factory=AgentPolicy)

    async def for_agent(self, run: RunInfo) -> AgentPolicy:
        return self.policy


@dataclass(kw_only=True)
class DatabasePolicy:
    db: Database
    keep: int = 1024
    """How many runs' policies to keep (runs going at once is far fewer)."""
    _by_run: OrderedDict[str, AgentPolicy] = field(default_factory=OrderedDict)

    async def for_agent(self, run: RunInfo) -> AgentPolicy:
        key = run.run_id
        policy = self._by_run.get(key)
        if policy is None:
            policy = await asyncio.to_thread(self._load, run.agent_id)
            self._by_run[key] = policy
            while len(self._by_run) > self.keep:
                self._by_run.popitem(last=False)
        return policy

    def _load(self, agent_id: int) -> AgentPolicy:
        with self.db.session() as session:
            agent = session.get(Agent, agent_id)
            if agent is None:  # deleted mid-run: no pre-approvals, the organization's allowlist unknown
                return AgentPolicy()
            return store.agent_policy(session, agent.org_id, agent_id)


@dataclass(frozen=True)
class PolicyGate:
    source: PolicySource = field(default_factory=StaticPolicy)

    async def decide(self, call: ToolCall, run: RunInfo) -> GateDecision:
        return rules.decide(call, run, await self.source.for_agent(run))
