"""`record_admin_action`: the one call an interface makes after a security-relevant change (a key created
or revoked, a role changed, a person deactivated, a secret stored), inside the same transaction, so the
change and its audit record commit or roll back together. Used by the API, the web pages and the CLI.

The `record_*` helpers below build the arguments of the people, team, import and budget kinds in one
place, so every path that makes such a change (API, page, CLI) records the same thing. They are called
after the store accepted the change: a refused change raises first and leaves no record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from meshclaw.audit.chain import AuditLog
from meshclaw.audit.record import AuditRecord
from meshclaw.context import AppContext
from meshclaw.db.models import Budget, Team, User
from meshclaw.identity.org_import import ImportReport
from meshclaw.identity.principal import Principal
from meshclaw.limits.rules import MICROUSD_PER_USD
from meshclaw.limits.store import SubjectRef


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


@dataclass(frozen=True, kw_only=True)
class PersonState:
    """What of a person the audit log follows. Role and active have kinds of their own (who may act, who
    may sign in); team and manager decide whose usage a manager sees and which budgets apply."""

    role: str
    active: bool
    name: str
    team_id: int | None
    manager_id: int | None

    @classmethod
    def of(cls, user: User) -> PersonState:
        return cls(
            role=user.role,
            active=user.active,
            name=user.name,
            team_id=user.team_id,
            manager_id=user.manager_id,
        )


def record_user_added(context: AppContext, session: Session, principal: Principal | None, user: User) -> None:
    """`admin.user_added`: never the password (only its hash is stored, and that is not recorded either)."""
    record_admin_action(
        context,
        session,
        principal,
        kind="admin.user_added",
        target=f"user:{user.id}",
        arguments={
            "email": user.email,
            "role": user.role,
            "team_id": user.team_id,
            "manager_id": user.manager_id,
        },
    )


def record_user_change(
    context: AppContext, session: Session, principal: Principal | None, *, user: User, before: PersonState
) -> None:
    """Audit what of a person changed since `before`: role, then active, then the other fields together;
    nothing when nothing did."""
    after = PersonState.of(user)
    target = f"user:{user.id}"
    if before.role != after.role:
        record_admin_action(
            context,
            session,
            principal,
            kind="admin.role_changed",
            target=target,
            arguments={"from": before.role, "to": after.role},
        )
    if before.active != after.active:
        kind = "admin.user_reactivated" if after.active else "admin.user_deactivated"
        record_admin_action(context, session, principal, kind=kind, target=target)
    followed = ("name", "team_id", "manager_id")
    changes = changed_fields(
        {name: getattr(before, name) for name in followed}, {name: getattr(after, name) for name in followed}
    )
    if changes:
        record_admin_action(
            context, session, principal, kind="admin.user_changed", target=target, arguments=changes
        )


def record_password_set(
    context: AppContext, session: Session, principal: Principal | None, *, user: User
) -> None:
    """`admin.password_set`: someone set `user`'s password (theirs, or an admin another's: a way into an
    account). Nothing of the password is recorded; `own` tells the two apart at a glance."""
    own = principal is not None and principal.user_id == user.id
    record_admin_action(
        context,
        session,
        principal,
        kind="admin.password_set",
        target=f"user:{user.id}",
        arguments={"own": own},
    )


def team_fields(team: Team) -> dict[str, object]:
    return {"name": team.name, "parent_id": team.parent_id}


def record_team(
    context: AppContext,
    session: Session,
    principal: Principal | None,
    *,
    kind: str,
    team_id: int,
    arguments: Mapping[str, object],
) -> None:
    """`admin.team_created`/`admin.team_deleted` with the team's fields, `admin.team_changed` with what
    changed (`changed_fields`); a change that changed nothing is not recorded."""
    if arguments:
        record_admin_action(
            context, session, principal, kind=kind, target=f"team:{team_id}", arguments=arguments
        )


def record_org_import(
    context: AppContext, session: Session, principal: Principal | None, report: ImportReport
) -> None:
    """One record for the whole file, with counts (an import creates teams but never changes one), then
    an `admin.role_changed` for each person whose role it changed, as when an admin changes one."""
    record_admin_action(
        context,
        session,
        principal,
        kind="admin.org_imported",
        target="organization",
        arguments={
            "users_created": report.users_created,
            "users_updated": report.users_updated,
            "teams_created": len(report.teams_created),
        },
    )
    for user_id, old, new in report.role_changes:
        record_admin_action(
            context,
            session,
            principal,
            kind="admin.role_changed",
            target=f"user:{user_id}",
            arguments={"from": old, "to": new, "via": "org_import"},
        )


def budget_fields(budget: Budget, subject: SubjectRef) -> dict[str, object]:
    """The budget as people set it: the amount in USD for `usd`, a count otherwise."""
    amount = budget.amount / MICROUSD_PER_USD if budget.unit == "usd" else budget.amount
    return {
        "subject_type": budget.subject_type,
        "subject_id": budget.subject_id,
        "subject": subject.scope,
        "unit": budget.unit,
        "amount": amount,
        "period": budget.period or None,
        "enforcement": budget.enforcement,
    }


def record_budget(
    context: AppContext,
    session: Session,
    principal: Principal | None,
    *,
    kind: str,
    budget: Budget,
    subject: SubjectRef,
) -> None:
    """`admin.budget_set` (created or its amount replaced) or `admin.budget_removed`."""
    record_admin_action(
        context,
        session,
        principal,
        kind=kind,
        target=f"budget:{budget.id}",
        arguments=budget_fields(budget, subject),
    )
