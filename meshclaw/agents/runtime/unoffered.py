"""A call to a tool this run does not offer: refused, and recorded like every refused call.

The model is shown only its granted tools, but nothing stops it from naming another one (a compromised
model told to "use the ceo-mail account's send tool" will try). Such a call never reaches a tool; before
this module it reached no gate and no sink either, so the audit log did not show the attempt. Now each
one is decided by the gate (which says `grant.missing` for an ungranted tool) and recorded as a denied
step, which the runs layer audits as `tool.denied` with the arguments redacted and their digest, like any
other refusal. The name and the arguments are the model's own text, never checked against a schema, so
the record keeps them cut to a size (`refused`). What the model reads is unchanged: pydantic-ai's
"unknown tool" retry.

Refused calls count against the run's `max_tool_calls` like the calls that reached a tool, so a model
that sprays ungranted names cannot write audit records without end: past the limit the run ends
`budget_exceeded`. Shared by the direct loop and the agent graph, so both refuse, count and record alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic_ai.exceptions import UsageLimitExceeded
from pydantic_core import to_jsonable_python

from meshclaw.agents.runtime.contract import GateDecision, ToolCall, ToolCallStep, args_digest
from meshclaw.agents.runtime.gated import SegmentState
from meshclaw.agents.runtime.refused import MAX_NAME_CHARS, refused_args, refused_text
from meshclaw.tools.effects import UNCLASSIFIED, EffectClass
from meshclaw.tools.registry import ToolRegistry

EffectOf = Callable[[str], EffectClass]
"""The effect class of a tool name the run does not offer (a registry tool it was not granted has one)."""


def effect_in(registry: ToolRegistry) -> EffectOf:
    def effect(name: str) -> EffectClass:
        spec = registry.get(name)
        return spec.effect if spec is not None else UNCLASSIFIED

    return effect


def as_args(raw: object) -> dict[str, Any]:
    """The arguments as the model wrote them (never validated: no schema was offered), as JSON values."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        text = raw
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError):
            return {"arguments": text}
    plain = to_jsonable_python(raw, fallback=str)
    return plain if isinstance(plain, dict) else {"arguments": plain}


async def refuse(state: SegmentState, *, name: str, raw_args: object, call_id: str, effect: EffectOf) -> None:
    """Decide and record one call to a tool the run does not offer; raises `UsageLimitExceeded` instead
    when the segment's tool calls are used up."""
    limit = state.tool_calls_limit
    if limit is not None and state.calls_decided >= limit:
        raise UsageLimitExceeded(
            f"The next tool call(s) would exceed the tool_calls_limit of {limit} "
            f"(tool_calls={state.calls_decided + 1}, including calls of tools the agent was not given)."
        )
    state.calls_decided += 1
    name = refused_text(name, MAX_NAME_CHARS)
    args = refused_args(as_args(raw_args))
    digest = args_digest(args)
    call = ToolCall(tool_call_id=call_id, name=name, args=args, args_digest=digest, effect=effect(name),
                    origin="connector")  # fmt: skip
    decision = await state.gate.decide(call, state.run_info())
    if decision.decision != "deny":
        # The gate would let it through (a grant pattern covers the name), but no such tool exists here.
        decision = GateDecision(
            decision="deny", reason=f"no tool named '{name}' is available to this agent", rule="tool.unknown"
        )
    await state.sink.tool_call(
        ToolCallStep(tool_call_id=call_id, name=name, args_digest=digest, effect=call.effect,
                     decision="deny", reason=refused_text(decision.reason), status="denied", rule=decision.rule,
                     args=args, taint_sources=tuple(state.untrusted.sources))
    )  # fmt: skip
