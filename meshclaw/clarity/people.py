"""Who counts: the organization's active people and their current team, and team names and sizes.

Adoption's denominator is people, not events, so it comes from the user table. A person counts in the
team they are in now (a reorganization moves their history with them in adoption views; usage and cost
views keep the team at the time of each call, as metering stamped it).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.db.models import Team, User

MIN_TEAM_SIZE = 5
"""Teams with fewer people are left out of organization-wide views: aggregates of 2 or 3 people are
nearly individual numbers (SPACE's team-level privacy advice; Copilot's metrics use the same bar)."""


@dataclass(frozen=True, kw_only=True)
class Roster:
    team_of: dict[int, int | None]
    """Active people: user id -> current team id."""
    emails: dict[int, str]
    team_names: dict[int, str]
    team_sizes: dict[int, int]
    """Active people per team (direct members)."""

    def members(self, team_id: int) -> list[int]:
        return [user_id for user_id, team in self.team_of.items() if team == team_id]

    @cached_property
    def key(self) -> str:
        """A digest of who is active and in which team: adoption counted per team under one roster is
        valid for another only when their keys are equal (`clarity_adoption_weeks`)."""
        pairs = ",".join(f"{user_id}:{team or 0}" for user_id, team in sorted(self.team_of.items()))
        return hashlib.sha256(pairs.encode()).hexdigest()


def load_roster(session: Session, org_id: int) -> Roster:
    """The roster, read once per session: a Clarity page resolves its team and computes several views
    in one session, and at 5,000 people each read costs ~50 ms. Clarity's sessions only read people, so
    the copy cannot go stale within one (`session.info` ends with the session)."""
    key = ("clarity.roster", org_id)
    cached = session.info.get(key)
    if isinstance(cached, Roster):
        return cached
    roster = read_roster(session, org_id)
    session.info[key] = roster
    return roster


def read_roster(session: Session, org_id: int) -> Roster:
    """The roster as the database has it now (`load_roster` keeps the session's first read)."""
    team_of: dict[int, int | None] = {}
    emails: dict[int, str] = {}
    for user_id, team_id, email in session.execute(
        select(User.id, User.team_id, User.email).where(User.org_id == org_id, User.active.is_(True))
    ):
        team_of[user_id] = team_id
        emails[user_id] = email
    names = {
        team_id: name
        for team_id, name in session.execute(select(Team.id, Team.name).where(Team.org_id == org_id))
    }
    sizes = Counter(team for team in team_of.values() if team is not None)
    return Roster(team_of=team_of, emails=emails, team_names=names, team_sizes=dict(sizes))
