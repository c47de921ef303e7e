"""Reading and saving Clarity's settings: the organization's `ClarityConfig` and per-team settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.clarity.config import DEFAULTS, ClarityConfig
from meshclaw.db.models import ClaritySettings, ClarityTeamSettings
from meshclaw.errors import BadRequestError


@dataclass(frozen=True, kw_only=True)
class TeamSettings:
    team_id: int
    leaderboard_enabled: bool = False
    """Individual leaderboard for the team's people; off unless an admin turns it on."""
    leaderboard_enabled_at: datetime | None = None
    target_introduced_at: datetime | None = None
    """When the team got a usage target or leaderboard; the reactivity check compares before and after."""


def load_config(session: Session, org_id: int) -> ClarityConfig:
    row = session.scalar(select(ClaritySettings).where(ClaritySettings.org_id == org_id))
    if row is None:
        return DEFAULTS
    return ClarityConfig(
        weekly_goal=row.weekly_goal,
        active_min_days=row.active_min_days,
        active_min_accepted=row.active_min_accepted,
        minutes_saved={str(k): float(v) for k, v in row.minutes_saved.items()},
        weekly_token_target=row.weekly_token_target,
    )


def validate_config(config: ClarityConfig) -> None:
    if not 0 < config.weekly_goal <= 1:
        raise BadRequestError(
            "weekly_goal must be a share above 0 and at most 1 (0.8 is 80%)", field="weekly_goal"
        )
    if not 1 <= config.active_min_days <= 7:
        raise BadRequestError("active_min_days must be between 1 and 7", field="active_min_days")
    if not 0 <= config.active_min_accepted <= 10_000:
        raise BadRequestError(
            "active_min_accepted must be between 0 (off) and 10000", field="active_min_accepted"
        )
    for kind, minutes in config.minutes_saved.items():
        if not kind or len(kind) > 80 or not 0 <= minutes <= 10_000:
            raise BadRequestError(
                "minutes_saved maps outcome types (at most 80 characters) to minutes between 0 and 10000",
                field="minutes_saved",
            )
    if config.weekly_token_target is not None and not 0 < config.weekly_token_target < 2**31:
        raise BadRequestError(
            "weekly_token_target must be a positive number of tokens", field="weekly_token_target"
        )


def save_config(
    session: Session, org_id: int, config: ClarityConfig, *, by_user_id: int | None, now: datetime
) -> None:
    validate_config(config)
    row = session.scalar(select(ClaritySettings).where(ClaritySettings.org_id == org_id))
    if row is None:
        row = ClaritySettings(org_id=org_id)
        session.add(row)
    row.weekly_goal = config.weekly_goal
    row.active_min_days = config.active_min_days
    row.active_min_accepted = config.active_min_accepted
    row.minutes_saved = dict(config.minutes_saved)
    row.weekly_token_target = config.weekly_token_target
    row.updated_at = now
    row.updated_by_user_id = by_user_id


def _team_settings(row: ClarityTeamSettings) -> TeamSettings:
    return TeamSettings(
        team_id=row.team_id,
        leaderboard_enabled=row.leaderboard_enabled,
        leaderboard_enabled_at=row.leaderboard_enabled_at,
        target_introduced_at=row.target_introduced_at,
    )


def all_team_settings(session: Session) -> dict[int, TeamSettings]:
    """Teams with saved settings; a team not in the answer has the defaults (leaderboard off)."""
    return {row.team_id: _team_settings(row) for row in session.scalars(select(ClarityTeamSettings))}


def team_settings(session: Session, team_id: int) -> TeamSettings:
    row = session.scalar(select(ClarityTeamSettings).where(ClarityTeamSettings.team_id == team_id))
    return _team_settings(row) if row is not None else TeamSettings(team_id=team_id)


def save_team_settings(
    session: Session,
    team_id: int,
    *,
    leaderboard_enabled: bool | None,
    target_introduced_at: datetime | None,
    by_user_id: int | None,
    now: datetime,
) -> TeamSettings:
    """Change what is given. Turning the leaderboard on records when, and counts as introducing a target
    unless one was recorded before."""
    row = session.scalar(select(ClarityTeamSettings).where(ClarityTeamSettings.team_id == team_id))
    if row is None:
        row = ClarityTeamSettings(team_id=team_id, leaderboard_enabled=False)
        session.add(row)
    if leaderboard_enabled is not None and leaderboard_enabled != row.leaderboard_enabled:
        row.leaderboard_enabled = leaderboard_enabled
        if leaderboard_enabled:
            row.leaderboard_enabled_at = now
            row.target_introduced_at = row.target_introduced_at or now
    if target_introduced_at is not None:
        row.target_introduced_at = target_introduced_at
    row.updated_at = now
    row.updated_by_user_id = by_user_id
    session.flush()
    return _team_settings(row)
