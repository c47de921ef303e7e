"""The gate the runtime uses until the Safety issue's policy gate exists: deny by default.

A tool runs only if the agent's spec grants it (by exact name or `prefix_*`), or if it comes from the
agent's own settings (memory tools when memory is on; the skills and MCP servers listed in the spec). A granted tool
whose effect class can reach outside the organization or cannot be undone (communicate_external, deploy,
destructive, which is also every unclassified MCP tool) needs a person's approval of that exact call, in
both modes: in an attended run the person is there to answer at once, in an unattended one the run waits.
An approval counts only for the arguments it was given for.
"""

from __future__ import annotations

from meshclaw.agents.runtime.contract import GateDecision, RunInfo, ToolCall
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import grant_matches

NEEDS_APPROVAL = frozenset({EffectClass.COMMUNICATE_EXTERNAL, EffectClass.DEPLOY, EffectClass.DESTRUCTIVE})


class DefaultGate:
    async def decide(self, call: ToolCall, run: RunInfo) -> GateDecision:
        granted = call.origin in ("memory", "skill", "mcp") or any(
            grant_matches(grant.tool, call.name) for grant in run.spec.tools
        )
        if not granted:
            return GateDecision(decision="deny", reason=f"the agent has no grant for the tool '{call.name}'")
        if call.effect not in NEEDS_APPROVAL:
            return GateDecision(decision="allow", reason=f"granted; effect {call.effect.value}")
        approval = call.approval
        if approval is not None and approval.approved and approval.args_digest == call.args_digest:
            return GateDecision(
                decision="allow", reason=f"approved ({approval.approval_id or 'by the owner'})"
            )
        if approval is not None and approval.approved:
            return GateDecision(
                decision="deny", reason="the approval was given for other arguments than this call has"
            )
        return GateDecision(
            decision="needs_approval",
            reason=f"effect {call.effect.value} needs a person's approval of this exact call",
        )
