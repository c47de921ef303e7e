"""Clarity tables: the organization's adoption settings, per-team leaderboard settings, weekly
tokenmaxxing flags with their reviews, and a record of which weeks the detector has scored.

Flags are keyed by week and subject (`person:<user id>` or `agent:<agent id>`), so re-scoring a week
replaces its open flags without touching reviewed ones. A review is kept on the flag itself: the
dismissed flags of a subject are what suppresses the same pattern later.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from meshclaw.db.base import Base, UTCDateTime
from meshclaw.db.models.metering import ActivityEventRow, BigId

# The detector reads a week of activity events (tool results, API errors) for everyone; metering indexes
# them only per person and per session. Declared here because Clarity is the reader that needs it.
Index("ix_activity_events_occurred_at", ActivityEventRow.occurred_at)


class ClaritySettings(Base):
    """One row per organization; absent means the defaults (`meshclaw.clarity.config`)."""

    __tablename__ = "clarity_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), unique=True)
    weekly_goal: Mapped[float] = mapped_column(Float)
    active_min_days: Mapped[int] = mapped_column(Integer)
    active_min_accepted: Mapped[int] = mapped_column(Integer)
    minutes_saved: Mapped[dict[str, Any]] = mapped_column(JSON)
    weekly_token_target: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_user_id: Mapped[int | None] = mapped_column(Integer)


class ClarityTeamSettings(Base):
    """Per team: whether its individual leaderboard is on, and when a target or leaderboard started."""

    __tablename__ = "clarity_team_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), unique=True)
    leaderboard_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    leaderboard_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    target_introduced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by_user_id: Mapped[int | None] = mapped_column(Integer)


class ClarityFlag(Base):
    """A week's flag for one person or agent, and its review (status open, confirmed or dismissed)."""

    __tablename__ = "clarity_flags"
    __table_args__ = (
        UniqueConstraint("week_start", "subject_key", name="uq_clarity_flags_week_subject"),
        Index("ix_clarity_flags_subject_status", "subject_key", "status"),
        Index("ix_clarity_flags_user_week", "user_id", "week_start"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    week_start: Mapped[date] = mapped_column(Date)
    subject_key: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(320))
    user_id: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(Integer)
    pattern: Mapped[str] = mapped_column(String(400))
    score: Mapped[float] = mapped_column(Float)
    signals: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    explanation: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10))
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reviewed_by_user_id: Mapped[int | None] = mapped_column(Integer)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    review_note: Mapped[str | None] = mapped_column(Text)


class ClarityDetectionRun(Base):
    """When a week was last scored, and the version of the data it read then (`flag_store.data_version`):
    a week is scored again only when that data moved on."""

    __tablename__ = "clarity_detection_runs"

    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime())
    flags: Mapped[int] = mapped_column(Integer)
    data_version: Mapped[int | None] = mapped_column(BigInteger)
    """None: scored before versions were recorded (migration 0018), so scored again once."""


# --- sums of the daily rollups, for organization-wide reads -------------------------------------------
# The daily rollups hold a row per person, day and (team, agent, model, app, source, initiator): millions
# a year at 5,000 people, too many to sum per page view. These tables hold the same sums per day and one
# dimension, and per person and week, written by `meshclaw.clarity.summaries` from the rollups with the
# same SQL expressions the views use, for the days whose `rollup_days` version they record.


class ClarityUsageDay(Base):
    """Usage of one day summed by one dimension (`all`, `team`, `user`, `agent`, `model`, `client`,
    `source`, `initiator`); `key` is the id or name as text, '0' or '' for none, as in the rollups."""

    __tablename__ = "clarity_usage_days"
    __table_args__ = (UniqueConstraint("dimension", "day", "key", name="uq_clarity_usage_days_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(10))
    day: Mapped[datetime] = mapped_column(UTCDateTime())
    key: Mapped[str] = mapped_column(String(200))
    requests: Mapped[int] = mapped_column(BigInteger)
    errors: Mapped[int] = mapped_column(BigInteger)
    input_uncached: Mapped[int] = mapped_column(BigInteger)
    cache_read: Mapped[int] = mapped_column(BigInteger)
    cache_write: Mapped[int] = mapped_column(BigInteger)
    output: Mapped[int] = mapped_column(BigInteger)
    reasoning: Mapped[int] = mapped_column(BigInteger)
    cost_microusd: Mapped[int] = mapped_column(BigInteger)
    effective_tokens: Mapped[float] = mapped_column(Float)


class ClarityOutcomeDay(Base):
    """Outcomes of one day summed by `type` or `team`. `unpriced` and `value_units` are the per-rollup-row
    expressions of `clarity.outcomes` and `clarity.measures`, summed (they are not linear in the other
    columns, so they cannot be derived from them afterwards)."""

    __tablename__ = "clarity_outcome_days"
    __table_args__ = (UniqueConstraint("dimension", "day", "key", name="uq_clarity_outcome_days_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(10))
    day: Mapped[datetime] = mapped_column(UTCDateTime())
    key: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[float] = mapped_column(Float)
    accepted: Mapped[int] = mapped_column(BigInteger)
    rejected: Mapped[int] = mapped_column(BigInteger)
    minutes_saved: Mapped[float] = mapped_column(Float)
    unpriced: Mapped[int] = mapped_column(BigInteger)
    value_units: Mapped[float] = mapped_column(Float)


class ClarityPersonWeek(Base):
    """One person's week as adoption counts it (`clarity.adoption.PersonWeek`); people without usage or
    outcomes that week have no row."""

    __tablename__ = "clarity_person_weeks"
    __table_args__ = (Index("ix_clarity_person_weeks_user_week", "user_id", "week_start"),)

    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    human_days: Mapped[int] = mapped_column(Integer)
    human_requests: Mapped[int] = mapped_column(BigInteger)
    human_tokens: Mapped[int] = mapped_column(BigInteger)
    automation_requests: Mapped[int] = mapped_column(BigInteger)
    automation_tokens: Mapped[int] = mapped_column(BigInteger)
    accepted_outcomes: Mapped[int] = mapped_column(BigInteger)


class ClaritySummaryDay(Base):
    """The `rollup_days` version of a day when its sums above (and its week's person rows) were written."""

    __tablename__ = "clarity_summary_days"

    day: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class ClarityUsageWeek(Base):
    """`clarity_usage_days` summed over a whole week (Monday to Sunday), for long ranges: a year by team is
    52 rows per team instead of 365. Written by the same refresh as the days, from them; read only for weeks
    marked in `clarity_summary_weeks` whose days are all current."""

    __tablename__ = "clarity_usage_weeks"
    __table_args__ = (UniqueConstraint("dimension", "week_start", "key", name="uq_clarity_usage_weeks_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(10))
    week_start: Mapped[date] = mapped_column(Date)
    key: Mapped[str] = mapped_column(String(200))
    requests: Mapped[int] = mapped_column(BigInteger)
    errors: Mapped[int] = mapped_column(BigInteger)
    input_uncached: Mapped[int] = mapped_column(BigInteger)
    cache_read: Mapped[int] = mapped_column(BigInteger)
    cache_write: Mapped[int] = mapped_column(BigInteger)
    output: Mapped[int] = mapped_column(BigInteger)
    reasoning: Mapped[int] = mapped_column(BigInteger)
    cost_microusd: Mapped[int] = mapped_column(BigInteger)
    effective_tokens: Mapped[float] = mapped_column(Float)


class ClarityOutcomeWeek(Base):
    """`clarity_outcome_days` summed over a whole week, written with `clarity_usage_weeks` (same marker,
    same rule for reading): the team leaderboard over half a year reads 27 rows a team, not 182."""

    __tablename__ = "clarity_outcome_weeks"
    __table_args__ = (
        UniqueConstraint("dimension", "week_start", "key", name="uq_clarity_outcome_weeks_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(10))
    week_start: Mapped[date] = mapped_column(Date)
    key: Mapped[str] = mapped_column(String(200))
    count: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[float] = mapped_column(Float)
    accepted: Mapped[int] = mapped_column(BigInteger)
    rejected: Mapped[int] = mapped_column(BigInteger)
    minutes_saved: Mapped[float] = mapped_column(Float)
    unpriced: Mapped[int] = mapped_column(BigInteger)
    value_units: Mapped[float] = mapped_column(Float)


class ClaritySummaryWeek(Base):
    """A week whose `clarity_usage_weeks` and `clarity_outcome_weeks` rows were written (from its summed
    days at the time; a day summed again rewrites its week in the same transaction)."""

    __tablename__ = "clarity_summary_weeks"

    week_start: Mapped[date] = mapped_column(Date, primary_key=True)


class ClarityTeamWeek(Base):
    """Adoption of one team (`team_id` 0: people without a team) in one week, counted from
    `clarity_person_weeks` under the active rule and the roster its `clarity_adoption_weeks` stamp names.
    `people` and `none` are not stored: they come from the roster, which the stamp proves unchanged."""

    __tablename__ = "clarity_team_weeks"

    org_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    team_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    active: Mapped[int] = mapped_column(Integer)
    light: Mapped[int] = mapped_column(Integer)
    moderate: Mapped[int] = mapped_column(Integer)
    heavy: Mapped[int] = mapped_column(Integer)
    automation_people: Mapped[int] = mapped_column(Integer)
    human_tokens: Mapped[int] = mapped_column(BigInteger)
    automation_tokens: Mapped[int] = mapped_column(BigInteger)


class ClarityAdoptionWeek(Base):
    """What an organization's `clarity_team_weeks` rows of a week were counted under: the active rule's
    thresholds and a digest of the roster (who is active, in which team). A reader whose rule or roster
    differs counts the week itself."""

    __tablename__ = "clarity_adoption_weeks"

    org_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, primary_key=True)
    active_min_days: Mapped[int] = mapped_column(Integer)
    active_min_accepted: Mapped[int] = mapped_column(Integer)
    roster_key: Mapped[str] = mapped_column(String(64))
