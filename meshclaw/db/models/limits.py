"""Limits tables: budgets and rate limits per API key, user, team and agent, and soft-budget alerts.

One table holds every kind of limit (`unit` x `period`): a rate limit is a budget whose period is a
minute (`requests`/`tokens` per minute) or that has none (`concurrent`). One row per subject, unit,
period and enforcement, so "set" replaces a limit instead of stacking a second one. The subject is a
(`subject_type`, `subject_id`) pair rather than four foreign keys: agents have no table yet, and a
budget must outlive nothing it names (deleting a user leaves their budget inert, not dangling).
Concurrency limits store `period = ''` (not NULL) so the unique key still holds.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meshclaw.db.base import Base, UTCDateTime


class Budget(Base):
    """A limit on one subject. `amount` is micro-USD for `unit='usd'`, a count otherwise."""

    __tablename__ = "budgets"
    __table_args__ = (
        UniqueConstraint(
            "subject_type", "subject_id", "unit", "period", "enforcement", name="uq_budgets_key"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_type: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(12))
    period: Mapped[str] = mapped_column(String(8))
    enforcement: Mapped[str] = mapped_column(String(4))
    amount: Mapped[int] = mapped_column(BigInteger)
    created_by_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BudgetAlert(Base):
    """A soft budget crossed: at most one row per budget and period (the unique key makes it so across
    processes and restarts). The limit and the spend are copied, so a later change to the budget does not
    rewrite what was alerted."""

    __tablename__ = "budget_alerts"
    __table_args__ = (
        UniqueConstraint("budget_id", "period_start", name="uq_budget_alerts_budget_period"),
        Index("ix_budget_alerts_subject", "subject_type", "subject_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    budget_id: Mapped[int] = mapped_column(Integer)
    subject_type: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(12))
    period: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int] = mapped_column(BigInteger)
    spent: Mapped[int] = mapped_column(BigInteger)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
