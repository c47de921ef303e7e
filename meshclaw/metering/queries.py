"""Reading usage back: the filters every reader shares, and the raw event list with keyset pagination.

Readers (the API, the CLI, the web pages, later Clarity) parse their input with the `parse_*` functions
here, so the same bad input gets the same message everywhere, and pass a `Scope` saying whose usage the
caller may see; `access.py` derives it from the principal. Totals and breakdowns come from the rollups
(`summary.py`); this module's `list_events` is for looking at individual calls.

Pagination is by keyset, not offset: the cursor holds the (started_at, id) of the last row returned, so
a page costs the same however deep it is, and events arriving meanwhile never shift a page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, get_args

import orjson
from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from meshclaw.db.models import UsageEventRow, User
from meshclaw.db.row_ids import MAX_ROW_ID, row_id_of
from meshclaw.errors import BadRequestError
from meshclaw.metering.events import Source

Dimension = Literal["user", "team", "agent", "model", "client", "source"]
Period = Literal["hour", "day"]
DIMENSIONS: tuple[Dimension, ...] = get_args(Dimension)
PERIODS: tuple[Period, ...] = get_args(Period)
SOURCES: tuple[Source, ...] = get_args(Source)
MAX_LIMIT = 1000
MAX_ID = MAX_ROW_ID
"""Ids beyond BIGINT cannot exist; looking them up would make the database driver fail."""

C = TypeVar("C", bound=str)


# --- parsing ----------------------------------------------------------------------------------------


def parse_time(value: str | None, field: str) -> datetime | None:
    """ISO 8601 date or date-time; without an offset it is taken as UTC. Returned in UTC."""
    if value is None or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequestError(
            f"{field} must be an ISO 8601 date or date-time such as 2026-11-01 or 2026-11-01T09:30:00Z, "
            f"not {value[:40]!r}",
            field=field,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_choice(value: str, choices: Sequence[C], field: str) -> C:
    for choice in choices:
        if value == choice:
            return choice
    raise BadRequestError(f"{field} must be one of {', '.join(choices)}, not {value[:40]!r}", field=field)


def as_id(text: str) -> int | None:
    """A decimal row id (ASCII digits, within BIGINT), or None when `text` is not one."""
    return row_id_of(text.strip())


def parse_limit(value: int) -> int:
    if not 1 <= value <= MAX_LIMIT:
        raise BadRequestError(f"limit must be between 1 and {MAX_LIMIT}, not {value}", field="limit")
    return value


# --- who may see what, and what was asked for -------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Scope:
    """Whose usage a reader may see: everyone's, or one person's plus that of some teams."""

    everyone: bool
    user_id: int | None = None
    """The reader's own usage is always in scope."""
    team_ids: frozenset[int] = frozenset()
    """Usage stamped with one of these teams (the team at the time of the call) is in scope."""

    @classmethod
    def all(cls) -> Scope:
        return cls(everyone=True)


@dataclass(frozen=True, kw_only=True)
class UsageFilters:
    """What the reader asked for, with people and teams already resolved to ids."""

    since: datetime | None = None
    """Inclusive."""
    until: datetime | None = None
    """Exclusive."""
    user_id: int | None = None
    team_id: int | None = None
    agent_id: int | None = None
    source: Source | None = None
    model: str | None = None
    """The model that answered (or, when the provider did not say, the one requested)."""

    def __post_init__(self) -> None:
        if self.since and self.until and self.since >= self.until:
            raise BadRequestError("since must be earlier than until", field="since")


def scope_clause(
    scope: Scope, user_column: InstrumentedAttribute[Any], team_column: InstrumentedAttribute[Any]
) -> ColumnElement[bool]:
    if scope.everyone:
        return true()
    clauses: list[ColumnElement[bool]] = []
    if scope.user_id is not None:
        clauses.append(user_column == scope.user_id)
    if scope.team_ids:
        clauses.append(team_column.in_(sorted(scope.team_ids)))
    return or_(*clauses) if clauses else false()


# --- the event list ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EventPage:
    rows: list[UsageEventRow]
    next_cursor: str | None
    """Pass back as `cursor` for the next (older) page; None on the last page."""
    user_emails: dict[int, str]
    """The email of each person on the page, to show beside their id."""


def encode_cursor(row: UsageEventRow) -> str:
    raw = orjson.dumps([row.started_at.isoformat(), row.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        started, row_id = orjson.loads(raw)
        moment = datetime.fromisoformat(started)
        if moment.tzinfo is None or isinstance(row_id, bool) or not isinstance(row_id, int):
            raise ValueError("bad cursor")
        if not 0 <= row_id <= MAX_ID:
            raise ValueError("bad cursor")
        return moment.astimezone(UTC), row_id
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise BadRequestError(
            "cursor is not one this server issued; pass the next_cursor of a previous answer unchanged, "
            "or leave it out to start from the newest event",
            field="cursor",
        ) from None


def event_filter(scope: Scope, filters: UsageFilters) -> ColumnElement[bool]:
    row = UsageEventRow
    clauses = [scope_clause(scope, row.user_id, row.team_id)]
    if filters.since is not None:
        clauses.append(row.started_at >= filters.since)
    if filters.until is not None:
        clauses.append(row.started_at < filters.until)
    if filters.user_id is not None:
        clauses.append(row.user_id == filters.user_id)
    if filters.team_id is not None:
        clauses.append(row.team_id == filters.team_id)
    if filters.agent_id is not None:
        clauses.append(row.agent_id == filters.agent_id)
    if filters.source is not None:
        clauses.append(row.source == filters.source)
    if filters.model is not None:
        clauses.append(func.coalesce(row.model, row.requested_model) == filters.model)
    return and_(*clauses)


def list_events(
    session: Session,
    scope: Scope,
    filters: UsageFilters,
    *,
    limit: int = 100,
    cursor: str | None = None,
) -> EventPage:
    """Usage events in scope and matching the filters, newest first."""
    limit = parse_limit(limit)
    row = UsageEventRow
    query = select(row).where(event_filter(scope, filters))
    if cursor:
        started, row_id = decode_cursor(cursor)
        query = query.where(or_(row.started_at < started, and_(row.started_at == started, row.id < row_id)))
    query = query.order_by(row.started_at.desc(), row.id.desc()).limit(limit + 1)
    rows = list(session.scalars(query).all())
    more = len(rows) > limit
    rows = rows[:limit]
    user_ids = sorted({row.user_id for row in rows if row.user_id is not None})
    emails: dict[int, str] = {}
    if user_ids:
        found = session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
        emails = {user_id: email for user_id, email in found}
    return EventPage(
        rows=rows, next_cursor=encode_cursor(rows[-1]) if more and rows else None, user_emails=emails
    )
