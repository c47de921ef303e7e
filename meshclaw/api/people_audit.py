"""The audit records of changes to people, teams and the organization import, for the API, the pages and
the CLI: one place builds each kind's arguments, so every path records the same thing. Called after the
store accepted the change: a refused change raises first and leaves no record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from meshclaw.api.audit_trail import changed_fields, record_admin_action
from meshclaw.context import AppContext
from meshclaw.db.models import Team, User
from meshclaw.identity.org_import import ImportReport
from meshclaw.identity.principal import Principal


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
