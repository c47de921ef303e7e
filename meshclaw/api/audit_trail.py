"""`record_admin_action`: the one call an interface makes after a security-relevant change (a key created
or revoked, a role changed, a person deactivated, a secret stored), inside the same transaction, so the
change and its audit record commit or roll back together. Used by the API, the web pages and the CLI.

Each area builds its kinds' arguments in one module of its own (`people_audit`, `budget_audit`,
`upstream_audit`, `agent_audit`), so every path that makes such a change (API, page, CLI) records the
same thing; `changed_fields` is their common from/to diff."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from meshclaw.audit.chain import AuditLog
from meshclaw.audit.record import AuditRecord
from meshclaw.context import AppContext
from meshclaw.identity.principal import Principal


def audit_log(context: AppContext) -> AuditLog:
    return AuditLog.for_data_dir(context.settings.data_dir)


def invoked_by(principal: Principal) -> str:
    return f"api-key:{principal.key_id}" if principal.key_id is not None else f"user:{principal.user_id}"


def record_admin_action(
    context: AppContext,
    session: Session,
    principal: Principal | None,
    *,
    kind: str,
    target: str,
    arguments: Mapping[str, object] | None = None,
    secret_values: tuple[str, ...] = (),
) -> None:
    """Append `kind` for `target`; `principal` None means the operator's shell (the CLI)."""
    audit_log(context).append(
        session,
        AuditRecord(
            kind=kind,
            on_behalf_of_user_id=principal.user_id if principal else None,
            invoked_by=invoked_by(principal) if principal else "cli",
            target=target,
            arguments=arguments,
            secret_values=secret_values,
            outcome="ok",
        ),
        now=context.clock.now(),
    )


def changed_fields(before: Mapping[str, object], after: Mapping[str, object]) -> dict[str, object]:
    """`{"field": {"from": old, "to": new}}` for each field whose value differs; empty when none does."""
    return {name: {"from": before[name], "to": after[name]} for name in before if before[name] != after[name]}
