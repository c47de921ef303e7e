"""MeshClaw agents at work: productive ones run when there is something to do during their owner's
working day and mostly have their actions accepted (with the minutes each saves); runaway ones run on a
timer day and night with a growing context, fail now and then, and rarely produce anything kept.

Their calls are recorded as the agent runtime records them: `source=agent`, the agent's id, a run id,
`initiator=automation`, attributed to the person the agent acts for.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from meshclaw.metering.events import OutcomeEvent, UsageEvent
from meshclaw.simulation.behaviours import AGENT_PROFILES, Profile
from meshclaw.simulation.gateway import event_id, usage_event
from meshclaw.simulation.org import SimAgent
from meshclaw.simulation.plan import ERROR_CODES, PersonDays, poisson

CLIENT = "meshclaw-agent/0.1"


class AgentDays:
    def __init__(self, agent: SimAgent, *, seed: int) -> None:
        self.agent = agent
        self.profile = AGENT_PROFILES[agent.label]
        # The call shapes (tokens, models, durations) are a person's; only the context size differs.
        shape = Profile(weekday_activity=1, weekend_activity=1, sessions=(1, 1), calls_per_session=(1, 1),
                        context=self.profile.context, output=0.7, prompt_pool=1)  # fmt: skip
        self.calls = PersonDays(agent.owner, shape, seed=seed)
        self.calls.rng = random.Random(f"agent:{seed}:{agent.name}")  # noqa: S311 - reproducible simulation
        self.rng = self.calls.rng

    def _run_starts(self, day: date) -> list[datetime]:
        rng, profile = self.rng, self.profile
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if profile.all_hours:  # on a timer: every few minutes, to the second
            period = 3600 / profile.runs_per_hour
            return [midnight + timedelta(seconds=index * period + rng.uniform(0, 2))
                    for index in range(int(86_400 / period))]  # fmt: skip
        if day.weekday() >= 5:
            return []
        start = midnight + timedelta(hours=self.agent.owner.start_hour)
        runs = poisson(rng, profile.runs_per_hour * 9)
        return sorted(start + timedelta(hours=rng.uniform(0, 9)) for _ in range(runs))

    def day(self, day: date) -> tuple[list[UsageEvent], list[OutcomeEvent]]:
        rng, profile, agent = self.rng, self.profile, self.agent
        usage: list[UsageEvent] = []
        outcomes: list[OutcomeEvent] = []
        attributes = {"agent.name": agent.name}
        for run_index, start in enumerate(self._run_starts(day)):
            run_id = f"run-{agent.agent_id}-{day.isoformat()}-{run_index}"
            at = start
            for index in range(rng.randint(*profile.calls_per_run)):
                failed = rng.random() < profile.error_rate
                call = self.calls.call(at, run_id, first=index == 0, turn=index == 0,
                                       status=rng.choice(ERROR_CODES) if failed else 200)  # fmt: skip
                usage.append(usage_event(call, rng, source="agent", client=CLIENT, user_id=agent.owner.user_id,
                                         initiator="automation", agent_id=agent.agent_id, run_id=run_id,
                                         attributes=attributes))  # fmt: skip
                at += timedelta(milliseconds=call.duration_ms, seconds=rng.uniform(0.5, 4))
            if rng.random() < profile.outcome_per_run:
                accepted = rng.random() < profile.accept_rate
                outcomes.append(
                    OutcomeEvent(
                        event_id=event_id(rng, at),
                        type=agent.outcome_type,
                        occurred_at=at,
                        source="agent",
                        accepted=accepted,
                        minutes_saved=agent.minutes_saved if accepted else None,
                        user_id=agent.owner.user_id,
                        agent_id=agent.agent_id,
                        run_id=run_id,
                        client=CLIENT,
                        attributes=attributes,
                    )
                )
        return usage, outcomes
