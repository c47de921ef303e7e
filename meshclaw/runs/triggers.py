"""When a trigger fires: the due slot of a cron, interval or one-shot trigger, and whether an event
matches an event trigger. Pure functions of (trigger, time or event); the engine acts on the answers.

A time trigger fires for *slots*: the cron's fire times (in the trigger's time zone), multiples of the
interval since the epoch, or the one-shot time. The run of a slot gets an id derived from the agent, the
trigger and the slot (`run_id_for_slot`), so firing a slot twice (two ticks, two processes, a restart)
inserts one run. Why not DBOS's own schedules: intervals and one-shot times are not cron expressions, and
deriving the ids from slots needs no schedule state to keep in step with agents' versions; a tick simply
reads each agent's current version, so a changed schedule applies at the next tick.

A slot older than `grace` is not fired late: after a long outage an agent wakes once for the newest slot
it missed recently, not once per missed slot.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from meshclaw.agents.spec import CronTrigger, EventTrigger, IntervalTrigger, OnceTrigger
from meshclaw.runs.admission import AgentForRun

TimeTrigger = CronTrigger | IntervalTrigger | OnceTrigger


def due_slot(trigger: TimeTrigger, now: datetime, *, grace: timedelta) -> datetime | None:
    """The newest slot at or before `now` and no older than `grace`, or None."""
    slot: datetime
    if isinstance(trigger, CronTrigger):
        local_now = now.astimezone(ZoneInfo(trigger.timezone))
        # croniter steps back from an aware time in that zone, so "07:00" means 07:00 there, DST included.
        slot = croniter(trigger.expression(), local_now + timedelta(seconds=1)).get_prev(datetime)
    elif isinstance(trigger, IntervalTrigger):
        every = trigger.every_seconds
        slot = datetime.fromtimestamp((int(now.timestamp()) // every) * every, tz=now.tzinfo)
    else:
        slot = trigger.at
    if slot > now or now - slot > grace:
        return None
    return slot


def trigger_key(trigger: TimeTrigger | EventTrigger) -> str:
    """A short digest of the trigger's definition: the same trigger in a later version keeps its key,
    so an edit elsewhere in the agent does not make a slot fire again."""
    data = json.dumps(trigger.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:10]


def run_id_for_slot(agent_id: int, trigger: TimeTrigger, slot: datetime) -> str:
    return f"{trigger.kind}-{agent_id}-{trigger_key(trigger)}-{slot.strftime('%Y%m%dT%H%M%S%z')}"


def event_matches(trigger: EventTrigger, event_type: str, fields: Mapping[str, str]) -> bool:
    """Same event type, every `match` filter equal to the event's field of that name, and the event's
    text matching `text_matches` (at its start, ignoring case) when the trigger has one."""
    if trigger.event != event_type:
        return False
    if not all(fields.get(name) == value for name, value in trigger.match.items()):
        return False
    # `re` caches compiled patterns; the text is cut by the connector (4,000 characters for chat).
    return trigger.text_matches is None or (
        re.match(trigger.text_matches, fields.get("text", ""), re.IGNORECASE) is not None
    )


def route_event(
    agents: Iterable[AgentForRun], event_type: str, fields: Mapping[str, str]
) -> list[tuple[AgentForRun, EventTrigger]]:
    """Which agents an event starts, each with the trigger it starts by (one run per agent, however many
    of its triggers match; a trigger that is not a fallback is preferred). An agent whose only match is a
    `fallback` trigger starts only when no other agent of the same owner matched without one: a DM the
    owner's deploy agent claims is not also answered by their chat assistant. Owners are kept apart, so
    one person's agents never silence another's."""
    matched: list[tuple[AgentForRun, EventTrigger]] = []
    for agent in agents:
        hits = [
            trigger
            for trigger in agent.spec.triggers
            if isinstance(trigger, EventTrigger) and event_matches(trigger, event_type, fields)
        ]
        if hits:
            matched.append((agent, min(hits, key=lambda trigger: trigger.fallback)))
    claimed = {agent.owner_user_id for agent, trigger in matched if not trigger.fallback}
    return [
        (agent, trigger)
        for agent, trigger in matched
        if not trigger.fallback or agent.owner_user_id not in claimed
    ]
