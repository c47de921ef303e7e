"""Reads of the audit log: a filtered page (newest first, keyset on `seq`) and the export stream."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from meshclaw.audit.chain import at_text
from meshclaw.db.models.audit import AuditEvent

MAX_PAGE = 500


@dataclass(frozen=True, kw_only=True)
class AuditFilter:
    kind: str | None = None
    """An exact kind, or a prefix ending in `.` or `*` (`admin.` or `admin.*` for every admin action)."""
    agent_id: int | None = None
    user_id: int | None = None
    """On whose behalf."""
    tool: str | None = None
    decision: str | None = None
    since: datetime | None = None
    """Inclusive."""
    until: datetime | None = None
    """Exclusive."""


def _filtered(query: Select[AuditEvent], where: AuditFilter) -> Select[AuditEvent]:
    if where.kind:
        kind = where.kind.removesuffix("*")
        query = query.where(
            AuditEvent.kind.startswith(kind, autoescape=True)
            if kind.endswith(".")
            else AuditEvent.kind == kind
        )
    if where.agent_id is not None:
        query = query.where(AuditEvent.actor_agent_id == where.agent_id)
    if where.user_id is not None:
        query = query.where(AuditEvent.on_behalf_of_user_id == where.user_id)
    if where.tool:
        query = query.where(AuditEvent.tool == where.tool)
    if where.decision:
        query = query.where(AuditEvent.decision == where.decision)
    if where.since is not None:
        query = query.where(AuditEvent.at >= where.since)
    if where.until is not None:
        query = query.where(AuditEvent.at < where.until)
    return query


@dataclass(frozen=True, kw_only=True)
class AuditPage:
    events: list[AuditEvent]
    next_before: int | None
    """Pass as `before` for the next (older) page; None on the last page."""


def list_events(
    session: Session, where: AuditFilter, *, before: int | None = None, limit: int = 50
) -> AuditPage:
    limit = max(1, min(limit, MAX_PAGE))
    query = _filtered(select(AuditEvent), where)
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    rows = list(session.scalars(query.order_by(AuditEvent.seq.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(events=rows, next_before=rows[-1].seq if more and rows else None)


def event_dict(row: AuditEvent) -> dict[str, object]:
    """A record as JSON-ready data: what the export writes and the API returns."""

    def parsed(value: str | None) -> object:
        return json.loads(value) if value is not None else None

    return {
        "seq": row.seq,
        "at": at_text(row.at),
        "kind": row.kind,
        "actor_agent_id": row.actor_agent_id,
        "on_behalf_of_user_id": row.on_behalf_of_user_id,
        "invoked_by": row.invoked_by,
        "target": row.target,
        "tool": row.tool,
        "effect_class": row.effect_class,
        "args_digest": row.args_digest,
        "arguments": parsed(row.args_redacted),
        "taint_sources": parsed(row.taint_sources) or [],
        "decision": row.decision,
        "rule": row.rule,
        "approval_id": row.approval_id,
        "approver_user_id": row.approver_user_id,
        "outcome": row.outcome,
        "external_ids": parsed(row.external_ids) or {},
        "run_id": row.run_id,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def iter_events(session: Session, where: AuditFilter, *, batch: int = 1000) -> Iterator[AuditEvent]:
    """Every matching record, oldest first, streamed in batches (the export)."""
    query = _filtered(select(AuditEvent), where).order_by(AuditEvent.seq)
    yield from session.scalars(query.execution_options(yield_per=batch))
