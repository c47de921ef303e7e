"""/api/v1/clarity/settings: the adoption goal and rule, minutes saved per outcome type, the weekly
token target, and per team whether its individual leaderboard is on. Everyone reads; admins change."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.clarity import access
from meshclaw.clarity.people import load_roster
from meshclaw.clarity.settings_store import all_team_settings, load_config, save_config, save_team_settings
from meshclaw.identity.authorize import Resource, authorize

router = APIRouter(prefix="/clarity", tags=["clarity"])


class TeamSettingsOut(BaseModel):
    team_id: int
    team: str
    leaderboard_enabled: bool
    leaderboard_enabled_at: datetime | None
    target_introduced_at: datetime | None


class SettingsOut(BaseModel):
    weekly_goal: float
    active_min_days: int
    active_min_accepted: int
    minutes_saved: dict[str, float]
    weekly_token_target: int | None
    teams: list[TeamSettingsOut] = Field(description="Teams with saved settings; others: leaderboard off")


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weekly_goal: float | None = Field(default=None, description="Share (0, 1]: 0.8 = 80% active each week")
    active_min_days: int | None = Field(default=None, description="Days of human use that make a week active")
    active_min_accepted: int | None = Field(
        default=None, description="Or this many accepted outcomes (0: off)"
    )
    minutes_saved: dict[str, float] | None = Field(default=None, description="Minutes per outcome type")
    weekly_token_target: int | None = Field(
        default=None, description="Published weekly effective-token target"
    )


class TeamSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    leaderboard_enabled: bool | None = None
    target_introduced_at: datetime | None = Field(
        default=None, description="When the team got a usage target (turning the leaderboard on sets it)"
    )


def _settings_out(context: Context, org_id: int) -> SettingsOut:
    with context.db.session() as session:
        config = load_config(session, org_id)
        names = load_roster(session, org_id).team_names
        teams = [
            TeamSettingsOut(
                team_id=team.team_id,
                team=names.get(team.team_id, str(team.team_id)),
                leaderboard_enabled=team.leaderboard_enabled,
                leaderboard_enabled_at=team.leaderboard_enabled_at,
                target_introduced_at=team.target_introduced_at,
            )
            for team in all_team_settings(session).values()
            if team.team_id in names
        ]
    return SettingsOut(
        weekly_goal=config.weekly_goal,
        active_min_days=config.active_min_days,
        active_min_accepted=config.active_min_accepted,
        minutes_saved=config.minutes_saved,
        weekly_token_target=config.weekly_token_target,
        teams=sorted(teams, key=lambda team: team.team),
    )


@router.get("/settings", response_model=SettingsOut)
def read_settings(principal: CurrentPrincipal, context: Context) -> SettingsOut:
    authorize(principal, "read", Resource(kind="clarity_settings"))
    return _settings_out(context, principal.org_id)


@router.put("/settings", response_model=SettingsOut)
def change_settings(body: SettingsIn, principal: CurrentPrincipal, context: Context) -> SettingsOut:
    """Change the fields given (admins); the others keep their value."""
    access.may_change_settings(principal)
    with context.db.session() as session:
        current = load_config(session, principal.org_id)
        changes = body.model_dump(exclude_unset=True)
        config = replace(current, **changes)
        save_config(session, principal.org_id, config, by_user_id=principal.user_id, now=context.clock.now())
    return _settings_out(context, principal.org_id)


@router.put("/teams/{team}/settings", response_model=TeamSettingsOut)
def change_team_settings(
    team: Annotated[str, Path(description="A team id or name")],
    body: TeamSettingsIn,
    principal: CurrentPrincipal,
    context: Context,
) -> TeamSettingsOut:
    """Turn a team's individual leaderboard on or off, or record when it got a target (admins)."""
    access.may_change_settings(principal)
    now = context.clock.now()
    with context.db.session() as session:
        found = access.team(
            session, principal.org_id, team, principal, load_roster(session, principal.org_id)
        )
        saved = save_team_settings(
            session,
            found.id,
            leaderboard_enabled=body.leaderboard_enabled,
            target_introduced_at=body.target_introduced_at,
            by_user_id=principal.user_id,
            now=now,
        )
        return TeamSettingsOut(
            team_id=found.id,
            team=found.name,
            leaderboard_enabled=saved.leaderboard_enabled,
            leaderboard_enabled_at=saved.leaderboard_enabled_at,
            target_introduced_at=saved.target_introduced_at,
        )
