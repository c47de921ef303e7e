"""/api/v1/clarity/settings: the adoption goal and rule, minutes saved per outcome type, the weekly
token target, and per team whether its individual leaderboard is on. Everyone reads; admins change.

They decide who is shown on a leaderboard and what the detector counts as tokenmaxxing, so a change is an
audit record in its transaction (`admin.clarity_settings_changed`, `admin.clarity_team_settings_changed`)
with the fields that changed, from and to; a save that changes nothing records nothing. `change_config`
and `change_team` are the writes, for any interface that offers them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.orm import Session

from meshclaw.api.audit_trail import changed_fields, record_admin_action
from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.clarity import access
from meshclaw.clarity.people import load_roster
from meshclaw.clarity.settings_store import (
    TeamSettings,
    all_team_settings,
    load_config,
    save_config,
    save_team_settings,
    team_settings,
)
from meshclaw.context import AppContext
from meshclaw.identity.authorize import Resource, authorize
from meshclaw.identity.principal import Principal

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
        default=None, description="Published weekly effective-token target (null: none)"
    )

    @model_validator(mode="before")
    @classmethod
    def _no_null_but_the_target(cls, data: Any) -> Any:
        # Fields left out keep their value; null would reach the range checks (a 500). Only the token
        # target may be unset.
        if isinstance(data, dict):
            for name in ("weekly_goal", "active_min_days", "active_min_accepted", "minutes_saved"):
                if name in data and data[name] is None:
                    raise ValueError(f"{name} cannot be null; leave it out to keep its value")
        return data


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


def change_config(
    context: AppContext, session: Session, principal: Principal, changes: Mapping[str, Any]
) -> None:
    """Save `changes` over the organization's settings (refused whole if invalid) and audit what changed."""
    current = load_config(session, principal.org_id)
    config = replace(current, **changes)
    save_config(session, principal.org_id, config, by_user_id=principal.user_id, now=context.clock.now())
    changed = changed_fields(asdict(current), asdict(config))
    if changed:
        record_admin_action(context, session, principal, kind="admin.clarity_settings_changed",
                            target="clarity_settings", arguments=changed)  # fmt: skip


def _team_fields(team: TeamSettings) -> dict[str, object]:
    return {
        "leaderboard_enabled": team.leaderboard_enabled,
        "leaderboard_enabled_at": _when(team.leaderboard_enabled_at),
        "target_introduced_at": _when(team.target_introduced_at),
    }


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def change_team(
    context: AppContext,
    session: Session,
    principal: Principal,
    team_id: int,
    *,
    leaderboard_enabled: bool | None,
    target_introduced_at: datetime | None,
) -> TeamSettings:
    """Save a team's settings (`save_team_settings`) and audit what changed."""
    before = team_settings(session, team_id)
    saved = save_team_settings(
        session,
        team_id,
        leaderboard_enabled=leaderboard_enabled,
        target_introduced_at=target_introduced_at,
        by_user_id=principal.user_id,
        now=context.clock.now(),
    )
    changed = changed_fields(_team_fields(before), _team_fields(saved))
    if changed:
        record_admin_action(context, session, principal, kind="admin.clarity_team_settings_changed",
                            target=f"team:{team_id}", arguments=changed)  # fmt: skip
    return saved


@router.get("/settings", response_model=SettingsOut)
def read_settings(principal: CurrentPrincipal, context: Context) -> SettingsOut:
    authorize(principal, "read", Resource(kind="clarity_settings"))
    return _settings_out(context, principal.org_id)


@router.put("/settings", response_model=SettingsOut)
def change_settings(body: SettingsIn, principal: CurrentPrincipal, context: Context) -> SettingsOut:
    """Change the fields given (admins); the others keep their value."""
    access.may_change_settings(principal)
    with context.db.session() as session:
        change_config(context, session, principal, body.model_dump(exclude_unset=True))
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
    with context.db.session() as session:
        found = access.team(
            session, principal.org_id, team, principal, load_roster(session, principal.org_id)
        )
        saved = change_team(
            context,
            session,
            principal,
            found.id,
            leaderboard_enabled=body.leaderboard_enabled,
            target_introduced_at=body.target_introduced_at,
        )
        return TeamSettingsOut(
            team_id=found.id,
            team=found.name,
            leaderboard_enabled=saved.leaderboard_enabled,
            leaderboard_enabled_at=saved.leaderboard_enabled_at,
            target_introduced_at=saved.target_introduced_at,
        )
