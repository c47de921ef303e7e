"""The policy decision, as a pure function of the call, the run and the agent's policy.

In order, first match wins:

1. `grant.missing` deny: no grant of the agent names the tool (deny by default). Tools from the agent's own
   settings count as granted: its memory, the skills and MCP servers its definition lists.
2. `grant.scope` deny: every grant naming the tool is narrowed to other accounts, folders, channels,
   services, environments or recipient domains than the call's.
3. `approval.mismatch` deny: a person approved this call for other arguments than it now has.
4. `effect.contained` allow: reading (private or untrusted) and internal writes. Reading untrusted content
   is not refused; it taints the run, which the next rules weigh.
5. `approval.exact` allow: a person approved these exact arguments (digest match).
6. For `communicate_external`, `deploy`, `destructive` (and every unclassified tool, which counts as
   `destructive`), what makes a person's approval necessary:
   - `rule_of_two`: the run read content outsiders can write, and an agent acting for a person holds private
     data; so it may not send, deploy or destroy without a person approving that exact call;
   - `egress.external`: a destination outside the organization's allowlist;
   - `egress.unscoped` (`communicate_external` only): the call names a chat channel, room or person that
     neither the allowlist nor the grant's scopes check (`add_user_to_channel(user, channel)` under a
     grant without a `channels` scope): a place or person the gate cannot vouch for counts as external;
   - `effect.deploy` / `effect.destructive`: always, unless pre-approved.
   A matching admin pre-approval (`preapproved`) answers these, except in a tainted run whose arguments
   carry untrusted content: then only a person looking at this exact call can.
   `communicate_external` to allowed destinations in a clean run is allowed (`egress.allowed`).
7. `unattended.skip` deny: the call needs approval, the run is unattended and the agent is set to carry on
   without (`unattended_approvals = "skip"`); otherwise `needs_approval`, and an unattended run waits
   durably for a person (never a synchronous prompt).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from meshclaw.agents.runtime.contract import GateDecision, RunInfo, ToolCall
from meshclaw.agents.spec import ToolGrant
from meshclaw.policy.destinations import destinations
from meshclaw.policy.egress import EgressAllowlist
from meshclaw.policy.preapprovals import PreApproval
from meshclaw.policy.scopes import out_of_scope, unnarrowed_targets
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import grant_matches

CONTAINED = frozenset({EffectClass.READ_PRIVATE, EffectClass.READ_UNTRUSTED, EffectClass.WRITE_INTERNAL})
SELF_GRANTED = ("memory", "skill", "mcp")
"""Origins the agent's own definition grants: `memory = true`, the skills and MCP servers it lists."""


@dataclass(frozen=True, kw_only=True)
class AgentPolicy:
    """What the organization's admins set that the gate weighs for one agent."""

    egress: EgressAllowlist = field(default_factory=EgressAllowlist)
    preapprovals: tuple[PreApproval, ...] = ()


def decide(call: ToolCall, run: RunInfo, policy: AgentPolicy) -> GateDecision:
    grants = [grant for grant in run.spec.tools if grant_matches(grant.tool, call.name)]
    if not grants and call.origin not in SELF_GRANTED:
        return GateDecision(
            decision="deny", reason=f"the agent has no grant for the tool '{call.name}'", rule="grant.missing"
        )
    fitting = grants
    if grants:
        refusals = [out_of_scope(grant, call.args) for grant in grants]
        if all(refusals):
            return GateDecision(decision="deny", reason=str(refusals[0]), rule="grant.scope")
        fitting = [grant for grant, refusal in zip(grants, refusals, strict=True) if refusal is None]
    approval = call.approval
    if approval is not None and approval.approved and approval.args_digest != call.args_digest:
        return GateDecision(
            decision="deny",
            reason="the approval was given for other arguments than this call has",
            rule="approval.mismatch",
        )
    if call.effect in CONTAINED:
        return GateDecision(
            decision="allow", reason=f"granted; effect {call.effect.value}", rule="effect.contained"
        )
    if approval is not None and approval.approved:
        who = approval.approval_id or "the owner"
        return GateDecision(
            decision="allow", reason=f"a person approved this exact call ({who})", rule="approval.exact"
        )
    return _consequential(call, run, policy, fitting)


def _consequential(
    call: ToolCall, run: RunInfo, policy: AgentPolicy, grants: Sequence[ToolGrant]
) -> GateDecision:
    reasons: list[tuple[str, str]] = []
    flowed: list[str] = []
    if run.tainted:
        untrusted = run.untrusted
        sources = ", ".join(untrusted.sources) if untrusted and untrusted.sources else "in an earlier step"
        flowed = untrusted.flowed_into(call.args) if untrusted is not None else list(call.args)
        carried = f"; these arguments carry that content: {', '.join(flowed)}" if flowed else ""
        reasons.append(
            (
                "rule_of_two",
                f"this run read content outsiders can write ({sources}) and holds its owner's private data, "
                f"so a person must approve this exact call{carried}",
            )
        )
    external = [d for d in destinations(call.args) if not policy.egress.allows(d)]
    if external:
        named = ", ".join(str(d) for d in external[:10])
        reasons.append(("egress.external", f"outside the organization's allowed destinations: {named}"))
    if call.effect is EffectClass.COMMUNICATE_EXTERNAL:
        unchecked = unnarrowed_targets(grants, call.args)
        if unchecked:
            reasons.append(("egress.unscoped", f"it reaches {', '.join(unchecked)}, which no allowlist or "
                                               "grant scope covers"))  # fmt: skip
    if call.effect is not EffectClass.COMMUNICATE_EXTERNAL:
        reasons.append(
            (f"effect.{call.effect.value}", f"effect {call.effect.value} needs a person's approval")
        )
    if not reasons:
        return GateDecision(
            decision="allow", reason="granted; every destination is allowed", rule="egress.allowed"
        )
    preapproval = next((p for p in policy.preapprovals if p.matches(call.name, call.args)), None)
    if preapproval is not None and not flowed:
        return GateDecision(
            decision="allow", reason=f"pre-approved by an admin: {preapproval.describe()}", rule="preapproved"
        )
    rule = reasons[0][0]
    reason = "; ".join(text for _, text in reasons)
    if run.mode == "unattended" and run.spec.unattended_approvals == "skip":
        return GateDecision(
            decision="deny",
            reason=f"not done: {reason}; this agent carries on without approvals when nobody is watching",
            rule="unattended.skip",
        )
    return GateDecision(decision="needs_approval", reason=reason, rule=rule)
