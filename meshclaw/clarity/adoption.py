"""Adoption: who engaged with AI each week, against the organization's goal.

"Active" is engaged use, not tokens (`ClarityConfig`): human-initiated AI use on at least
`active_min_days` UTC days of the week, or at least `active_min_accepted` accepted outcomes. Usage that
automation initiated (agents, schedules) never makes a person active: it is reported beside, as
automation, so neither inflates nor hides human adoption.

Cohorts, by days of human use in the week: none (no use and no accepted outcome), light (one day, or
outcomes only), moderate (2-3 days), heavy (4 or more).

Everything is read from the daily rollups, with one grouped query per week and table; weeks Clarity has
stored (`summaries.py`, `clarity_person_weeks`) and that are current are counted from there instead, in
one grouped query for all of them, or, when the refresh already counted them per team under the same
active rule and roster (`clarity_team_weeks`), read as a row per team and week.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from sqlalchemy import and_, case, distinct, false, func, or_, select
from sqlalchemy.orm import Session

from meshclaw.clarity.config import ClarityConfig
from meshclaw.clarity.freshness import stale_weeks
from meshclaw.clarity.measures import total_tokens
from meshclaw.clarity.people import Roster
from meshclaw.clarity.weeks import week_bounds
from meshclaw.db.models import OutcomeRollup, UsageRollup, User
from meshclaw.db.models.clarity import ClarityAdoptionWeek, ClarityPersonWeek, ClarityTeamWeek

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


def person_weeks(session: Session, week_start: date, *, user_id: int | None = None) -> dict[int, PersonWeek]:
    """Every person (or just `user_id`) with usage or outcomes in the week, from the daily rollups
    (people without any are absent)."""
    start, end = week_bounds(week_start)
    r, o = UsageRollup, OutcomeRollup
    only = user_id  # (the loops below rebind user_id)
    who = r.user_id > 0 if only is None else r.user_id == only
    in_week = (r.bucket == "day", r.bucket_start >= start, r.bucket_start < end, who)
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
        .where(
            o.bucket == "day",
            o.bucket_start >= start,
            o.bucket_start < end,
            o.user_id > 0 if only is None else o.user_id == only,
        )
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


def person_week_history(session: Session, user_id: int, mondays: list[date]) -> list[tuple[date, PersonWeek]]:
    """One person's weeks: Clarity's stored weeks where current (`freshness.py`), the rollups otherwise."""
    stale = stale_weeks(session, mondays)
    p = ClarityPersonWeek
    stored = {
        row.week_start: _stored(row)
        for row in session.scalars(select(p).where(p.user_id == user_id, p.week_start.in_(mondays)))
    }
    empty = PersonWeek()
    return [
        (
            monday,
            person_weeks(session, monday, user_id=user_id).get(user_id, empty)
            if monday in stale
            else stored.get(monday, empty),
        )
        for monday in mondays
    ]


def _stored(row: ClarityPersonWeek) -> PersonWeek:
    return PersonWeek(
        human_days=row.human_days,
        human_requests=int(row.human_requests),
        human_tokens=int(row.human_tokens),
        automation_requests=int(row.automation_requests),
        automation_tokens=int(row.automation_tokens),
        accepted_outcomes=int(row.accepted_outcomes),
    )


def count_stored_weeks(
    session: Session, org_id: int, mondays: list[date], config: ClarityConfig, *, team_id: int | None = None
) -> dict[date, dict[int | None, GroupAdoption]]:
    """Per week and current team (None: no team), the adoption counts of the organization's active people
    from `clarity_person_weeks`, in SQL (a few hundred rows per week come back, not a row per person).
    `people` and the `none` cohort are left 0: they come from the roster (`_assemble`)."""
    counted: dict[date, dict[int | None, GroupAdoption]] = defaultdict(dict)
    if not mondays:
        return counted
    p, u = ClarityPersonWeek, User
    by_accepted = (
        p.accepted_outcomes >= config.active_min_accepted if config.active_min_accepted > 0 else false()
    )
    active = or_(p.human_days >= config.active_min_days, by_accepted)
    heavy = p.human_days >= 4
    moderate = and_(p.human_days >= 2, p.human_days < 4)
    light = or_(p.human_days == 1, and_(p.human_days < 1, p.accepted_outcomes > 0))
    query = (
        select(
            p.week_start,
            u.team_id,
            *(func.sum(case((condition, 1), else_=0)) for condition in (active, light, moderate, heavy)),
            func.sum(case((p.automation_requests > 0, 1), else_=0)),
            func.sum(p.human_tokens),
            func.sum(p.automation_tokens),
        )
        .join(u, u.id == p.user_id)
        .where(u.org_id == org_id, u.active.is_(True), p.week_start.in_(mondays))
        .group_by(p.week_start, u.team_id)
    )
    if team_id is not None:
        query = query.where(u.team_id == team_id)
    for (
        monday,
        team_id,
        active_n,
        light_n,
        moderate_n,
        heavy_n,
        automation_n,
        human_t,
        auto_t,
    ) in session.execute(query):
        counted[monday][team_id] = _group(
            active=active_n,
            light=light_n,
            moderate=moderate_n,
            heavy=heavy_n,
            automation_people=automation_n,
            human_tokens=human_t,
            automation_tokens=auto_t,
        )
    return counted


def _group(
    *, active: int, light: int, moderate: int, heavy: int, automation_people: int, human_tokens: int,
    automation_tokens: int,
) -> GroupAdoption:  # fmt: skip
    group = GroupAdoption(
        active=int(active),
        automation_people=int(automation_people),
        human_tokens=int(human_tokens),
        automation_tokens=int(automation_tokens),
    )
    group.cohorts["light"], group.cohorts["moderate"], group.cohorts["heavy"] = (
        int(light),
        int(moderate),
        int(heavy),
    )
    return group


def _stamped(
    session: Session, org_id: int, mondays: list[date], roster: Roster, config: ClarityConfig
) -> list[date]:
    """The weeks of `mondays` whose `clarity_team_weeks` were counted under this rule and this roster
    (`clarity_adoption_weeks`)."""
    if not mondays:
        return []
    a = ClarityAdoptionWeek
    stamped = select(a.week_start).where(
        a.org_id == org_id,
        a.week_start.in_(mondays),
        a.active_min_days == config.active_min_days,
        a.active_min_accepted == config.active_min_accepted,
        a.roster_key == roster.key,
    )
    return list(session.scalars(stamped))


def _stamped_weeks(
    session: Session, org_id: int, mondays: list[date], team_id: int | None
) -> dict[date, dict[int | None, GroupAdoption]]:
    """The stamped weeks' `clarity_team_weeks`, read back per team (team 0 is "no team")."""
    weeks: dict[date, dict[int | None, GroupAdoption]] = {monday: {} for monday in mondays}
    if not weeks:
        return weeks
    t = ClarityTeamWeek
    rows = session.execute(
        select(t.week_start, t.team_id, t.active, t.light, t.moderate, t.heavy, t.automation_people,
               t.human_tokens, t.automation_tokens)
        .where(t.org_id == org_id, t.week_start.in_(list(weeks)),
               *(() if team_id is None else (t.team_id == team_id,)))
    )  # fmt: skip
    for monday, team_id, active_n, light_n, moderate_n, heavy_n, automation_n, human_t, auto_t in rows:
        if monday in weeks:
            weeks[monday][team_id or None] = _group(
                active=active_n,
                light=light_n,
                moderate=moderate_n,
                heavy=heavy_n,
                automation_people=automation_n,
                human_tokens=human_t,
                automation_tokens=auto_t,
            )
    return weeks


def _stamped_totals(session: Session, org_id: int, mondays: list[date], people: int) -> list[WeekAdoption]:
    """The organization alone in stamped weeks, summed over their teams in SQL (a row per week, not one
    per team and week); `teams` is left empty."""
    if not mondays:
        return []
    t = ClarityTeamWeek
    query = select(
        t.week_start,
        func.sum(t.active),
        func.sum(t.light),
        func.sum(t.moderate),
        func.sum(t.heavy),
        func.sum(t.automation_people),
        func.sum(t.human_tokens),
        func.sum(t.automation_tokens),
    ).where(t.org_id == org_id, t.week_start.in_(mondays))
    found: dict[date, GroupAdoption] = {}
    for monday, active_n, light_n, moderate_n, heavy_n, automation_n, human_t, auto_t in session.execute(
        query.group_by(t.week_start)
    ):
        found[monday] = _group(active=active_n, light=light_n, moderate=moderate_n, heavy=heavy_n,
                               automation_people=automation_n, human_tokens=human_t, automation_tokens=auto_t)  # fmt: skip
    weeks: list[WeekAdoption] = []
    for monday in mondays:
        group = found.get(monday) or GroupAdoption()
        group.people = people
        group.cohorts["none"] = people - sum(group.cohorts[name] for name in ("light", "moderate", "heavy"))
        weeks.append(WeekAdoption(week_start=monday, organization=group, teams={}))
    return weeks


def adoption_weeks(
    session: Session,
    org_id: int,
    mondays: list[date],
    roster: Roster,
    config: ClarityConfig,
    *,
    team_id: int | None = None,
    teams_in: Collection[date] | None = None,
) -> list[WeekAdoption]:
    """`adoption_week` for each Monday. Weeks Clarity has stored and are current (`freshness.py`) come
    from its per-team counts when they were counted under this rule and roster (`clarity_team_weeks`, a
    row per team and week), else are counted in SQL from `clarity_person_weeks` (`count_stored_weeks`);
    the others person by person from the rollups.

    `team_id`: one team's weeks only (its page reads ~26 rows, not a row per team); `teams` then holds
    that team and `organization` is the same group (its people only).

    `teams_in`: the weeks whose per-team groups the caller shows (None: every week). The organization of
    the other weeks is summed in SQL where stored counts allow, and their `teams` may be empty: half a
    year of the organization's overview is 27 rows then, not ~7,800 team-weeks."""
    stale = stale_weeks(session, mondays)
    stored = [monday for monday in mondays if monday not in stale]
    stamped = _stamped(session, org_id, stored, roster, config)
    alone = [] if team_id is not None or teams_in is None else [m for m in stamped if m not in teams_in]
    totals = {week.week_start: week for week in _stamped_totals(session, org_id, alone, len(roster.team_of))}
    by_team = [monday for monday in stamped if monday not in totals]
    counted = _stamped_weeks(session, org_id, by_team, team_id)
    rest = [monday for monday in stored if monday not in counted and monday not in totals]
    counted.update(count_stored_weeks(session, org_id, rest, config, team_id=team_id))
    sizes: dict[int | None, int] = dict(Counter(roster.team_of.values()))
    if team_id is not None:
        sizes = {team_id: sizes.get(team_id, 0)}
    return [
        _only(adoption_week(session, monday, roster, config), team_id)
        if monday in stale
        else totals[monday]
        if monday in totals
        else _assemble(monday, counted.get(monday, {}), sizes)
        for monday in mondays
    ]


def _only(week: WeekAdoption, team_id: int | None) -> WeekAdoption:
    if team_id is None:
        return week
    group = week.teams.get(team_id) or GroupAdoption()
    return WeekAdoption(week_start=week.week_start, organization=group, teams={team_id: group})


def _assemble(
    monday: date, groups: dict[int | None, GroupAdoption], sizes: dict[int | None, int]
) -> WeekAdoption:
    """A week from per-team counts: each team's size (the roster's) and its `none` cohort, and the
    organization as their sum."""
    organization = GroupAdoption()
    teams: dict[int, GroupAdoption] = {}
    for team_id, size in sizes.items():
        group = groups.get(team_id) or GroupAdoption()
        group.people = size
        group.cohorts["none"] = size - sum(group.cohorts[name] for name in ("light", "moderate", "heavy"))
        organization.people += group.people
        organization.active += group.active
        for name in COHORTS:
            organization.cohorts[name] += group.cohorts[name]
        organization.automation_people += group.automation_people
        organization.human_tokens += group.human_tokens
        organization.automation_tokens += group.automation_tokens
        if team_id is not None:
            teams[team_id] = group
    return WeekAdoption(week_start=monday, organization=organization, teams=teams)
