"""Adoption: who engaged with AI each week, against the organization's goal.

"Active" is engaged use, not tokens (`ClarityConfig`): human-initiated AI use on at least
`active_min_days` UTC days of the week, or at least `active_min_accepted` accepted outcomes. Usage that
automation initiated (agents, schedules) never makes a person active: it is reported beside, as
automation, so neither inflates nor hides human adoption.

Cohorts, by days of human use in the week: none (no use and no accepted outcome), light (one day, or
outcomes only), moderate (2-3 days), heavy (4 or more).

Everything is read from the daily rollups, with one grouped query per week and table.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from meshclaw.clarity.config import ClarityConfig
from meshclaw.clarity.measures import total_tokens
from meshclaw.clarity.people import Roster
from meshclaw.clarity.weeks import week_bounds
from meshclaw.db.models import OutcomeRollup, UsageRollup

Cohort = Literal["none", "light", "moderate", "heavy"]
COHORTS: tuple[Cohort, ...] = ("none", "light", "moderate", "heavy")


@dataclass(frozen=True, kw_only=True)
class PersonWeek:
    human_days: int = 0
    human_requests: int = 0
    human_tokens: int = 0
    automation_requests: int = 0
    automation_tokens: int = 0
    accepted_outcomes: int = 0


def cohort_of(week: PersonWeek) -> Cohort:
    if week.human_days >= 4:
        return "heavy"
    if week.human_days >= 2:
        return "moderate"
    if week.human_days == 1 or week.accepted_outcomes > 0:
        return "light"
    return "none"


def is_active(week: PersonWeek, config: ClarityConfig) -> bool:
    if week.human_days >= config.active_min_days:
        return True
    return config.active_min_accepted > 0 and week.accepted_outcomes >= config.active_min_accepted


def person_weeks(session: Session, week_start: date) -> dict[int, PersonWeek]:
    """Every person with usage or outcomes in the week (people without any are absent)."""
    start, end = week_bounds(week_start)
    r, o = UsageRollup, OutcomeRollup
    in_week = (r.bucket == "day", r.bucket_start >= start, r.bucket_start < end, r.user_id > 0)
    values: dict[int, dict[str, int]] = defaultdict(dict)
    human = (
        select(r.user_id, func.count(distinct(r.bucket_start)), func.sum(r.requests), total_tokens())
        .where(*in_week, r.initiator == "human", r.requests > 0)
        .group_by(r.user_id)
    )
    for user_id, days, requests, tokens in session.execute(human):
        values[user_id].update(human_days=int(days), human_requests=int(requests), human_tokens=int(tokens))
    automation = (
        select(r.user_id, func.sum(r.requests), total_tokens())
        .where(*in_week, r.initiator == "automation")
        .group_by(r.user_id)
    )
    for user_id, requests, tokens in session.execute(automation):
        values[user_id].update(automation_requests=int(requests), automation_tokens=int(tokens))
    accepted = (
        select(o.user_id, func.sum(o.accepted))
        .where(o.bucket == "day", o.bucket_start >= start, o.bucket_start < end, o.user_id > 0)
        .group_by(o.user_id)
    )
    for user_id, count in session.execute(accepted):
        if count:
            values[user_id].update(accepted_outcomes=int(count))
    return {user_id: PersonWeek(**fields) for user_id, fields in values.items()}


@dataclass(kw_only=True)
class GroupAdoption:
    """Adoption of a set of people (a team, or the organization) in one week."""

    people: int = 0
    active: int = 0
    cohorts: dict[Cohort, int] = field(default_factory=lambda: dict.fromkeys(COHORTS, 0))
    automation_people: int = 0
    """People with automation-initiated usage under their name this week."""
    human_tokens: int = 0
    automation_tokens: int = 0

    @property
    def rate(self) -> float:
        return round(self.active / self.people, 4) if self.people else 0.0

    def add(self, week: PersonWeek, config: ClarityConfig) -> None:
        self.people += 1
        self.active += is_active(week, config)
        self.cohorts[cohort_of(week)] += 1
        self.automation_people += week.automation_requests > 0
        self.human_tokens += week.human_tokens
        self.automation_tokens += week.automation_tokens


@dataclass(frozen=True, kw_only=True)
class WeekAdoption:
    week_start: date
    organization: GroupAdoption
    teams: dict[int, GroupAdoption]
    """Per team with at least one active person (current direct members)."""


def adoption_week(session: Session, week_start: date, roster: Roster, config: ClarityConfig) -> WeekAdoption:
    weeks = person_weeks(session, week_start)
    organization = GroupAdoption()
    teams: dict[int, GroupAdoption] = defaultdict(GroupAdoption)
    empty = PersonWeek()
    for user_id, team_id in roster.team_of.items():
        week = weeks.get(user_id, empty)
        organization.add(week, config)
        if team_id is not None:
            teams[team_id].add(week, config)
    return WeekAdoption(week_start=week_start, organization=organization, teams=dict(teams))
