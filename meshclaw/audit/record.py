"""What callers hand to `AuditLog.append`: an `AuditRecord`, one per security-relevant event.

Field names follow the CloudTrail model the research settled on: the actor (an agent), on whose behalf
it acted (a person), who or what invoked it (a user, a trigger, the CLI), then what was done and why it
was allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from meshclaw.errors import InvalidInputError

TOOL_KINDS: Final = ("tool.executed", "tool.denied", "approval.granted", "approval.denied")
"""Events of the policy gate and the approvals inbox."""
ADMIN_KINDS: Final = frozenset(
    {
        # people, teams and access
        "admin.user_added", "admin.user_changed", "admin.role_changed", "admin.password_set",
        "admin.user_deactivated", "admin.user_reactivated", "admin.team_created", "admin.team_changed",
        "admin.team_deleted", "admin.org_imported", "admin.key_created", "admin.key_revoked",
        # agents and what they may do
        "admin.agent_saved", "admin.agent_enabled", "admin.agent_disabled", "admin.kill_switch_engaged",
        "admin.kill_switch_released", "admin.egress_allowed", "admin.egress_removed",
        "admin.preapproval_added", "admin.preapproval_removed", "admin.tool_classified",
        "admin.account_added", "admin.account_changed", "admin.account_removed",
        # secrets
        "admin.vault_secret_created", "admin.vault_secret_rotated", "admin.vault_secret_deleted",
        "admin.vault_kek_rotated",
        # models, money and metering
        "admin.provider_added", "admin.provider_changed", "admin.provider_removed", "admin.price_set",
        "admin.budget_set", "admin.budget_removed", "admin.metering_events_dropped",
        # Clarity
        "admin.clarity_settings_changed", "admin.clarity_team_settings_changed", "admin.flag_reviewed",
        # the log itself
        "admin.audit_exported",
    }
)  # fmt: skip
"""Security-relevant administration, each kind a change someone made (README, "Audit log"). Appending
refuses any other kind, so a misspelt kind fails where it is written, not later in an auditor's filter
that finds nothing."""

Decision = Literal["allow", "deny", "needs_approval"]


def check_kind(kind: str) -> str:
    if kind in TOOL_KINDS or kind in ADMIN_KINDS:
        return kind
    raise InvalidInputError(
        f"unknown audit event kind {kind!r}; use one of {', '.join(TOOL_KINDS)} or of ADMIN_KINDS "
        "(meshclaw/audit/record.py, where a new kind is added)",
        field="kind",
    )


@dataclass(frozen=True, kw_only=True)
class AuditRecord:
    kind: str
    """`tool.executed`, `tool.denied`, `approval.granted`, `approval.denied` or `admin.<action>`."""
    actor_agent_id: int | None = None
    """The agent that acted, when an agent did."""
    on_behalf_of_user_id: int | None = None
    """The person the action was for (an agent's owner; for an admin action, the admin)."""
    invoked_by: str | None = None
    """What started it: `user:<id>`, `trigger:<id>`, `cli`, `api-key:<id>`."""
    target: str | None = None
    """What an admin action changed: `api_key:12`, `user:7`, `vault_secret:3`."""
    tool: str | None = None
    effect_class: str | None = None
    arguments: Mapping[str, object] | None = None
    """The original arguments: digested as they are, stored redacted."""
    secret_values: Sequence[str] = ()
    """Values known to be secret in this call (e.g. what the vault decrypted): never stored."""
    taint_sources: Sequence[str] = ()
    """The untrusted sources that had reached the run when the call was decided."""
    decision: Decision | None = None
    rule: str | None = None
    """The policy rule that decided."""
    approval_id: str | None = None
    approver_user_id: int | None = None
    outcome: str | None = None
    """`ok`, `error`, `denied`, `expired`..."""
    external_ids: Mapping[str, str] = field(default_factory=dict)
    """Ids in the remote system: `{"message_id": ..., "deployment_id": ...}`."""
    run_id: str | None = None
