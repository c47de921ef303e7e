"""The policy's organization rows: read for the gate, changed by admins (the interfaces audit each change
in the same transaction, through `api.audit_trail.record_admin_action`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.db.models.identity import User
from meshclaw.db.models.policy import EgressRule, PreApprovalRow
from meshclaw.errors import InvalidInputError, NotFoundError
from meshclaw.policy.destinations import parse
from meshclaw.policy.egress import EgressAllowlist
from meshclaw.policy.preapprovals import PreApproval
from meshclaw.policy.rules import AgentPolicy
from meshclaw.tools.registry import TOOL_NAME

EgressKind = Literal["domain", "url_prefix"]


def internal_domains(session: Session, org_id: int) -> frozenset[str]:
    """The organization's own mail domains: those of its active people."""
    emails = session.scalars(select(User.email).where(User.org_id == org_id, User.active.is_(True))).all()
    return frozenset(email.rsplit("@", 1)[1].lower() for email in emails if "@" in email)


def egress_allowlist(session: Session, org_id: int) -> EgressAllowlist:
    rows = active_egress_rules(session, org_id)
    return EgressAllowlist(
        internal_domains=internal_domains(session, org_id),
        allowed_domains=frozenset(row.value for row in rows if row.kind == "domain"),
        allowed_url_prefixes=tuple(row.value for row in rows if row.kind == "url_prefix"),
    )


def agent_policy(session: Session, org_id: int, agent_id: int) -> AgentPolicy:
    return AgentPolicy(
        egress=egress_allowlist(session, org_id),
        preapprovals=tuple(_preapproval(row) for row in active_preapprovals(session, agent_id)),
    )


def active_egress_rules(session: Session, org_id: int) -> list[EgressRule]:
    query = select(EgressRule).where(EgressRule.org_id == org_id, EgressRule.removed_at.is_(None))
    return list(session.scalars(query.order_by(EgressRule.kind, EgressRule.value)).all())


def active_preapprovals(session: Session, agent_id: int) -> list[PreApprovalRow]:
    query = select(PreApprovalRow).where(
        PreApprovalRow.agent_id == agent_id, PreApprovalRow.removed_at.is_(None)
    )
    return list(session.scalars(query.order_by(PreApprovalRow.id)).all())


def add_egress_rule(
    session: Session, *, org_id: int, kind: str, value: str, note: str, by_user_id: int | None, now: datetime
) -> EgressRule:
    checked_kind, checked = check_egress(kind, value)
    duplicate = session.scalar(
        select(EgressRule.id).where(
            EgressRule.org_id == org_id,
            EgressRule.kind == checked_kind,
            EgressRule.value == checked,
            EgressRule.removed_at.is_(None),
        )
    )
    if duplicate is not None:
        raise InvalidInputError(f"'{checked}' is already allowed (entry {duplicate})", field="value")
    row = EgressRule(org_id=org_id, kind=checked_kind, value=checked, note=note[:500],
                     created_by_user_id=by_user_id, created_at=now)  # fmt: skip
    session.add(row)
    session.flush()
    return row


def check_egress(kind: str, value: str) -> tuple[EgressKind, str]:
    text = value.strip()
    if kind == "domain":
        destination = parse(text.lower().removeprefix("*."), "value")
        if destination.kind != "domain" or destination.domain is None:
            raise InvalidInputError(
                f"'{value}' is not a domain: give a name such as 'partner.example' (subdomains are included)",
                field="value",
            )
        return "domain", destination.domain
    if kind == "url_prefix":
        destination = parse(text, "value")
        if destination.kind != "url" or not text.startswith("https://") or text.count("/") < 3:
            raise InvalidInputError(
                f"'{value}' is not an https URL prefix: give scheme, host and path, e.g. "
                "'https://hooks.example.com/ci/'",
                field="value",
            )
        return "url_prefix", text
    raise InvalidInputError(f"unknown egress kind '{kind}': use 'domain' or 'url_prefix'", field="kind")


def remove_egress_rule(
    session: Session, *, org_id: int, rule_id: int, by_user_id: int | None, now: datetime
) -> EgressRule:
    row = session.get(EgressRule, rule_id)
    if row is None or row.org_id != org_id or row.removed_at is not None:
        raise NotFoundError(f"no allowed destination with id {rule_id}")
    row.removed_at, row.removed_by_user_id = now, by_user_id
    return row


def add_preapproval(
    session: Session,
    *,
    org_id: int,
    agent_id: int,
    tool: str,
    constraints: Mapping[str, Any],
    note: str,
    by_user_id: int | None,
    now: datetime,
) -> PreApprovalRow:
    check_preapproval(tool, constraints)
    row = PreApprovalRow(org_id=org_id, agent_id=agent_id, tool=tool, constraints=dict(constraints),
                         note=note[:500], created_by_user_id=by_user_id, created_at=now)  # fmt: skip
    session.add(row)
    session.flush()
    return row


def check_preapproval(tool: str, constraints: Mapping[str, Any]) -> None:
    name = tool.removesuffix("*").rstrip("_") if tool.endswith("*") else tool
    if tool.endswith("*") and name.count("_") < 1:
        raise InvalidInputError(
            f"'{tool}' is too broad: a pre-approval names one tool or a family with at least "
            "<domain>_<verb>_*, e.g. 'deploy_start_*'",
            field="tool",
        )
    if not tool.endswith("*") and not TOOL_NAME.match(tool):
        raise InvalidInputError(
            f"'{tool}' is not a tool name: use <domain>_<verb>_<object>, e.g. deploy_start_release",
            field="tool",
        )
    for key, value in constraints.items():
        if not isinstance(value, str | int | float | bool) or value is None:
            raise InvalidInputError(
                f"constraint '{key}' must be a single text, number or true/false value (text may use * and ?)",
                field=f"constraints.{key}",
            )


def remove_preapproval(
    session: Session, *, org_id: int, preapproval_id: int, by_user_id: int | None, now: datetime
) -> PreApprovalRow:
    row = session.get(PreApprovalRow, preapproval_id)
    if row is None or row.org_id != org_id or row.removed_at is not None:
        raise NotFoundError(f"no pre-approval with id {preapproval_id}")
    row.removed_at, row.removed_by_user_id = now, by_user_id
    return row


def _preapproval(row: PreApprovalRow) -> PreApproval:
    return PreApproval(id=row.id, tool=row.tool, constraints=dict(row.constraints), note=row.note)
