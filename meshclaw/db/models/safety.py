"""Kill switches and owner notifications (see `meshclaw.runs.kill_switches`, `meshclaw.notifications`).

A kill switch is never deleted: releasing one stamps `released_at`, so the table is also the history of
who stopped what, when and why. At most one switch per (scope, target) is engaged at a time (the code
checks before inserting); the engaged ones are the rows with `released_at` NULL, which the index finds
without reading the history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from meshclaw.db.base import Base, UTCDateTime


class KillSwitch(Base):
    """One engagement of a kill switch: the organization, one person's agents, or one agent."""

    __tablename__ = "kill_switches"
    __table_args__ = (Index("ix_kill_switches_released", "released_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(Integer)
    scope: Mapped[str] = mapped_column(String(8))
    """`org`, `user` (every agent the person owns) or `agent`."""
    target_id: Mapped[int | None] = mapped_column(Integer)
    """The user's or the agent's id; None for `org`."""
    reason: Mapped[str] = mapped_column(Text)
    engaged_by_user_id: Mapped[int | None] = mapped_column(Integer)
    """None: the operator's shell (the CLI)."""
    engaged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_by_user_id: Mapped[int | None] = mapped_column(Integer)


class Notification(Base):
    """A message to one person: their run went over budget, a kill switch stopped their agent..."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    org_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    """`run.budget_exceeded`, `kill_switch.engaged`, `kill_switch.released`, later `approval.requested`."""
    text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    """A path in the web UI (`/runs/<id>`), never an outside address."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
