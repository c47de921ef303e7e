"""Clarity's read views as a reader asks for them: raw query text in, checked and resolved, numbers out.

Shared by the API and the CLI (`principal=None`: the operator, who sees everyone), so the same input is
read and refused the same way in both. Each view parses the range (`ranges.py`), resolves a named
person or team through `access.py` (403 out of reach, 404 unknown) and calls the module that computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from meshclaw.clarity import access
from meshclaw.clarity.adoption import PersonWeek, WeekAdoption, adoption_weeks, person_week_history
from meshclaw.clarity.config import ClarityConfig
from meshclaw.clarity.costs import GROUP_BYS, UsageRow, usage_rows
from meshclaw.clarity.flag_store import FLAG_STATUSES, StoredFlag, count_flags, ensure_scored, list_flags
from meshclaw.clarity.forecast import Forecast, month_forecast
from meshclaw.clarity.leaderboard import RANK_BYS, Entry, people_board, teams_board
from meshclaw.clarity.outcomes import OutcomeReport, outcome_report
from meshclaw.clarity.people import load_roster
from meshclaw.clarity.ranges import DateRange, parse_day, parse_range
from meshclaw.clarity.reactivity import Reactivity, team_reactivity
from meshclaw.clarity.settings_store import load_config, team_settings
from meshclaw.clarity.weeks import monday_of, weeks_between
from meshclaw.errors import BadRequestError, PermissionDeniedError
from meshclaw.identity.principal import Principal
from meshclaw.metering.queries import Scope, as_id, parse_choice

MAX_WEEKS_DAYS = 26 * 7
"""Adoption, leaderboards and flags look at most half a year at once (a week per query round)."""


def _given(value: str | None) -> str | None:
    return value.strip() if value is not None and value.strip() else None


@dataclass(frozen=True, kw_only=True)
class AdoptionView:
    config: ClarityConfig
    window: DateRange
    weeks: list[WeekAdoption]
    team_names: dict[int, str]
    """The teams shown (organization-wide: teams of 5 or more; or the one team asked for)."""
    person: tuple[int, str] | None = None
    person_weeks: list[tuple[date, PersonWeek]] | None = None


def adoption(
    session: Session,
    org_id: int,
    principal: Principal | None,
    *,
    since: str | None,
    until: str | None,
    team: str | None,
    user: str | None,
    today: date,
    per_team: Literal["every_week", "last_week"] = "every_week",
) -> AdoptionView:
    """Organization-wide, `per_team="last_week"` leaves the teams of the other weeks out (the overview
    shows teams for the last week only): `teams` of those weeks may then be empty."""
    window = parse_range(since, until, today=today, default_days=12 * 7, max_days=MAX_WEEKS_DAYS)
    config = load_config(session, org_id)
    roster = load_roster(session, org_id)
    mondays = weeks_between(window.since, window.until - timedelta(days=1))
    if user_ref := _given(user):
        person = access.person(session, org_id, user_ref, principal)
        own = person_week_history(session, person.id, mondays)
        return AdoptionView(
            config=config,
            window=window,
            weeks=[],
            team_names={},
            person=(person.id, person.email),
            person_weeks=own,
        )
    if team_ref := _given(team):
        found = access.team(session, org_id, team_ref, principal, roster)
        weeks = adoption_weeks(session, org_id, mondays, roster, config, team_id=found.id)
        return AdoptionView(config=config, window=window, weeks=weeks, team_names={found.id: found.name})
    teams_in = mondays[-1:] if per_team == "last_week" else None
    weeks = adoption_weeks(session, org_id, mondays, roster, config, teams_in=teams_in)
    return AdoptionView(config=config, window=window, weeks=weeks, team_names=access.org_teams(roster))


@dataclass(frozen=True, kw_only=True)
class Narrowed:
    scope: Scope
    user_id: int | None = None
    team_id: int | None = None


def _narrow(
    session: Session,
    org_id: int,
    principal: Principal | None,
    *,
    user: str | None,
    team: str | None,
    by_person: bool,
) -> Narrowed:
    """The rows a reader may sum: a named person's, a named team's (aggregates; per person only for
    those who may see its people), or, unnamed, whatever their reach covers."""
    if user_ref := _given(user):
        return Narrowed(scope=Scope.all(), user_id=access.person(session, org_id, user_ref, principal).id)
    if team_ref := _given(team):
        found = access.team(session, org_id, team_ref, principal, load_roster(session, org_id))
        if by_person and not access.sees_people_of(principal, found.id):
            raise PermissionDeniedError(
                "your role shows this team's aggregates only, not per person or agent"
            )
        return Narrowed(scope=Scope.all(), team_id=found.id)
    return Narrowed(scope=access.people_scope(principal))


@dataclass(frozen=True, kw_only=True)
class UsageView:
    window: DateRange
    group_by: str | None
    rows: list[UsageRow]


def usage(
    session: Session,
    org_id: int,
    principal: Principal | None,
    *,
    since: str | None,
    until: str | None,
    group_by: str | None,
    daily: bool,
    user: str | None,
    team: str | None,
    today: date,
    agent: int | None = None,
) -> UsageView:
    window = parse_range(since, until, today=today, default_days=28)
    dimension = parse_choice(group_by, GROUP_BYS, "group_by") if group_by and group_by.strip() else None
    if dimension == "team" and not _given(user) and not _given(team):
        # Organization-wide by team: aggregates of teams of 5 or more, for every reader.
        shown = access.org_teams(load_roster(session, org_id))
        rows = [
            row
            for row in usage_rows(session, Scope.all(), window, group_by="team", daily=daily)
            if isinstance(row.key, int) and row.key in shown
        ]
        return UsageView(window=window, group_by=dimension, rows=rows)
    narrowed = _narrow(
        session, org_id, principal, user=user, team=team, by_person=dimension in ("user", "agent")
    )
    rows = usage_rows(
        session,
        narrowed.scope,
        window,
        group_by=dimension,
        daily=daily,
        user_id=narrowed.user_id,
        team_id=narrowed.team_id,
        agent_id=agent if dimension == "agent" else None,
    )
    return UsageView(window=window, group_by=dimension, rows=rows)


def forecast(
    session: Session,
    org_id: int,
    principal: Principal | None,
    *,
    as_of: str | None,
    team: str | None,
    today: date,
) -> Forecast:
    day = parse_day(as_of, "as_of") if _given(as_of) and as_of else today
    narrowed = _narrow(session, org_id, principal, user=None, team=team, by_person=False)
    return month_forecast(session, narrowed.scope, as_of=day, team_id=narrowed.team_id)


def outcomes(
    session: Session,
    org_id: int,
    principal: Principal | None,
    *,
    since: str | None,
    until: str | None,
    user: str | None,
    team: str | None,
    agent: str | None,
    today: date,
) -> tuple[DateRange, OutcomeReport]:
    window = parse_range(since, until, today=today, default_days=28)
    agent_id = None
    if agent_ref := _given(agent):
        agent_id = as_id(agent_ref)
        if agent_id is None:
            raise BadRequestError(
                f"agent must be an agent id (a number), not {agent_ref[:40]!r}", field="agent"
            )
    narrowed = _narrow(session, org_id, principal, user=user, team=team, by_person=agent_id is not None)
    config = load_config(session, org_id)
    report = outcome_report(
        session,
        narrowed.scope,
        window,
        config,
        user_id=narrowed.user_id,
        team_id=narrowed.team_id,
        agent_id=agent_id,
    )
    return window, report


@dataclass(frozen=True, kw_only=True)
class LeaderboardView:
    window: DateRange
    rank_by: str
    scope: str
    """`teams` (organization-wide) or `people` (one team's individual board)."""
    team_id: int | None
    entries: list[Entry]


def leaderboard(
    session: Session,
    org_id: int,
    principal: Principal | None,
    *,
    since: str | None,
    until: str | None,
    team: str | None,
    rank_by: str,
    today: date,
) -> LeaderboardView:
    window = parse_range(since, until, today=today, default_days=28, max_days=MAX_WEEKS_DAYS)
    ranking = parse_choice(rank_by, RANK_BYS, "rank_by")
    roster = load_roster(session, org_id)
    if team_ref := _given(team):
        found = access.team(session, org_id, team_ref, principal, roster)
        if not team_settings(session, found.id).leaderboard_enabled:
            raise PermissionDeniedError(
                "this team's individual leaderboard is off (the default); an admin can turn it on"
            )
        members = {user_id: roster.emails[user_id] for user_id in roster.members(found.id)}
        entries = people_board(session, window, members, rank_by=ranking)
        return LeaderboardView(
            window=window, rank_by=ranking, scope="people", team_id=found.id, entries=entries
        )
    entries = teams_board(session, window, access.org_teams(roster), roster.team_sizes, rank_by=ranking)
    return LeaderboardView(window=window, rank_by=ranking, scope="teams", team_id=None, entries=entries)


def flags(
    session: Session,
    principal: Principal | None,
    *,
    since: str | None,
    until: str | None,
    now: datetime,
) -> tuple[DateRange, list[StoredFlag]]:
    """Flags of the weeks overlapping the range, scoring weeks that need it first."""
    window, first, last, user_id = _scored_flag_weeks(session, principal, since, until, now)
    return window, list_flags(session, first, last, user_id=user_id)


def _scored_flag_weeks(
    session: Session, principal: Principal | None, since: str | None, until: str | None, now: datetime
) -> tuple[DateRange, date, date, int | None]:
    """The range, its first and last Mondays with the due weeks scored, and whose flags the reader sees
    (None: everyone's)."""
    reach = access.flag_reach(principal)
    window = parse_range(since, until, today=now.date(), default_days=28, max_days=MAX_WEEKS_DAYS)
    first, last = monday_of(window.since), monday_of(window.until - timedelta(days=1))
    ensure_scored(session, first, last, now=now)
    return window, first, last, None if reach.everyone else reach.user_id


@dataclass(frozen=True, kw_only=True)
class FlagPage:
    window: DateRange
    counts: dict[str, int]
    """Flags of the range per status (open, confirmed, dismissed), whatever the status asked."""
    status: str | None
    flags: list[StoredFlag]
    page: int
    """1-based; past the last page: the last page."""
    pages: int


def flag_page(
    session: Session,
    principal: Principal | None,
    *,
    since: str | None,
    until: str | None,
    now: datetime,
    status: str | None,
    page: int,
    per_page: int,
) -> FlagPage:
    """One page of `flags`, optionally of one status, with the counts per status; half a year of an
    organization holds thousands of flags, too many to show at once."""
    if status is not None:
        status = parse_choice(status, FLAG_STATUSES, "status")
    window, first, last, user_id = _scored_flag_weeks(session, principal, since, until, now)
    counts = count_flags(session, first, last, user_id=user_id)
    total = counts.get(status, 0) if status is not None else sum(counts.values())
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    listed = list_flags(
        session, first, last, user_id=user_id, status=status, limit=per_page, offset=(page - 1) * per_page
    )
    return FlagPage(window=window, counts=counts, status=status, flags=listed, page=page, pages=pages)


def reactivity(
    session: Session, org_id: int, principal: Principal | None, *, now: datetime
) -> tuple[dict[int, str], list[Reactivity]]:
    """Teams with a target or leaderboard, before and after, limited to teams the reader may see."""
    roster = load_roster(session, org_id)
    shown = [
        answer
        for answer in team_reactivity(session, now=now)
        if answer.team_id in roster.team_names and access.sees_team(principal, answer.team_id, roster)
    ]
    return roster.team_names, shown
