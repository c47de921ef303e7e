"""A person's planned calls as the gateway records them: one `UsageEvent` per call, tokens converted
from the provider's own usage object by metering's normalizers, a prompt hash for each human turn.

Event ids keep metering's layout (48 bits of milliseconds, then 80 bits) with the random part drawn from
the person's generator, so a simulation is reproducible down to its ids and re-running it adds nothing.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from meshclaw.metering.events import OutcomeEvent, TokenBuckets, UsageEvent
from meshclaw.metering.normalize import from_anthropic, from_openai
from meshclaw.metering.prompt_hash import prompt_hash
from meshclaw.simulation.org import SimPerson
from meshclaw.simulation.plan import Call, DayPlan

CLIENTS = {
    "cursor": "cursor/1.7.44",
    "codex": "codex_cli_rs/0.46.0",
    "chat": "open-webui/0.6.32",
    "sdk": "anthropic-python/0.69.0",
}
DRAFT_MINUTES_SAVED = 15.0
"""What a kept draft from a chat app is estimated to save (the person's own estimate in the app)."""


def event_id(rng: random.Random, at: datetime) -> str:
    return f"{int(at.timestamp() * 1000):012x}{rng.getrandbits(80):020x}"


def raw_usage(call: Call) -> dict[str, Any]:
    """The usage object the provider returns for this call."""
    if call.model.counting == "anthropic":
        return {
            "input_tokens": call.uncached,
            "cache_read_input_tokens": call.cache_read,
            "cache_creation_input_tokens": call.cache_write,
            "output_tokens": call.output,
        }
    return {
        "input_tokens": call.uncached + call.cache_read,
        "input_tokens_details": {"cached_tokens": call.cache_read},
        "output_tokens": call.output + call.reasoning,
        "output_tokens_details": {"reasoning_tokens": call.reasoning},
    }


def usage_event(
    call: Call,
    rng: random.Random,
    *,
    source: str,
    client: str,
    user_id: int,
    initiator: str = "human",
    agent_id: int | None = None,
    run_id: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> UsageEvent:
    anthropic = call.model.counting == "anthropic"
    raw = raw_usage(call) if call.ok else None
    tokens = (from_anthropic(raw) if anthropic else from_openai(raw)) if raw else TokenBuckets()
    return UsageEvent(
        event_id=event_id(rng, call.start),
        source=source,  # type: ignore[arg-type]
        started_at=call.start,
        ended_at=call.start + timedelta(milliseconds=call.duration_ms),
        status="ok" if call.ok else "error",
        error=None if call.ok else f"upstream status {call.status_code}",
        provider=call.model.provider,
        operation="messages" if anthropic else "responses",
        requested_model=call.model.name,
        model=call.model.name,
        tokens=tokens,
        raw_usage=raw,
        user_id=user_id,
        agent_id=agent_id,
        run_id=run_id,
        client=client,
        initiator=initiator,  # type: ignore[arg-type]
        prompt_hash=prompt_hash(call.prompt) if call.prompt else None,
        session_id=call.session,
        attributes={**(attributes or {}), **({} if call.ok else {"attempt": call.attempt})} or None,
    )


def person_usage(person: SimPerson, plan: DayPlan, rng: random.Random) -> list[UsageEvent]:
    client = CLIENTS[person.tool]
    return [
        usage_event(call, rng, source="gateway", client=client, user_id=person.user_id) for call in plan.calls
    ]


def chat_outcomes(person: SimPerson, plan: DayPlan, rng: random.Random) -> list[OutcomeEvent]:
    """Drafts a chat app reports as kept or discarded: the chat users' outcomes."""
    outcomes: list[OutcomeEvent] = []
    ok_calls = [call for call in plan.calls if call.ok]
    if not ok_calls:
        return outcomes
    for accepted, count in ((True, plan.edits_accepted), (False, plan.edits_rejected)):
        for _ in range(count):
            call = rng.choice(ok_calls)
            at = call.start + timedelta(milliseconds=call.duration_ms, minutes=rng.uniform(1, 20))
            outcomes.append(
                OutcomeEvent(
                    event_id=event_id(rng, at),
                    type="document.drafted",
                    occurred_at=at,
                    source="gateway",
                    accepted=accepted,
                    minutes_saved=DRAFT_MINUTES_SAVED if accepted else None,
                    user_id=person.user_id,
                    client=CLIENTS["chat"],
                    session_id=call.session,
                )
            )
    return outcomes
