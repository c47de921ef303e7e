"""The SQL of notifications. Callers decide who is told what; reads are always one person's own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from meshclaw.db.models import Notification

TEXT_MAX = 2000


@dataclass(frozen=True, kw_only=True)
class NotificationView:
    id: int
    kind: str
    text: str
    link: str | None
    created_at: datetime
    read_at: datetime | None


def notify(
    session: Session, *, org_id: int, user_id: int, kind: str, text: str, link: str | None, now: datetime
) -> None:
    """Add a notification for `user_id` in the caller's transaction."""
    session.add(
        Notification(
            org_id=org_id, user_id=user_id, kind=kind, text=text[:TEXT_MAX], link=link, created_at=now
        )
    )


def unread_count(session: Session, user_id: int) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
    )
    return int(count or 0)


def list_for(
    session: Session, user_id: int, *, unread_only: bool = False, limit: int = 50
) -> list[NotificationView]:
    """Newest first."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    rows = session.scalars(
        query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    )
    return [
        NotificationView(
            id=row.id,
            kind=row.kind,
            text=row.text,
            link=row.link,
            created_at=row.created_at,
            read_at=row.read_at,
        )
        for row in rows
    ]


def mark_read(session: Session, user_id: int, *, now: datetime, ids: list[int] | None = None) -> int:
    """Mark the person's unread notifications read (only `ids` when given); returns how many changed."""
    query = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if ids is not None:
        query = query.where(Notification.id.in_(ids))
    result = session.execute(query.values(read_at=now))
    return int(getattr(result, "rowcount", 0) or 0)
