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
ADMIN_KINDS: Final = (
    "admin.key_created",
    "admin.key_revoked",
    "admin.role_changed",
    "admin.user_deactivated",
    "admin.user_reactivated",
    "admin.agent_enabled",
    "admin.agent_disabled",
    "admin.kill_switch",
    "admin.vault_secret_created",
    "admin.vault_secret_rotated",
    "admin.vault_secret_deleted",
    "admin.vault_kek_rotated",
    "admin.audit_exported",
    "admin.audit_checkpoint",
)
"""Security-relevant administration. New `admin.*` kinds are accepted too; these are the ones in use."""

Decision = Literal["allow", "deny", "needs_approval"]


def check_kind(kind: str) -> str:
    if kind in TOOL_KINDS or (kind.startswith("admin.") and len(kind) > len("admin.")):
        return kind
    raise InvalidInputError(
        f"unknown audit event kind {kind!r}; use one of {', '.join(TOOL_KINDS)} or admin.<action>",
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
