"""The Clarity pages' tables, each built from `meshclaw.clarity.views` (rollups only, visibility
decided there) and named, so the page that shows a table and its CSV/JSON export build the same thing.

`Ask` is what a page was asked: who reads, the range, and the team, person or agent it is about.
A builder raises the views' 403/404/400 before producing anything, so an export that is refused never
starts streaming.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from meshclaw.api.budgets import visible_status
from meshclaw.api.clarity_shapes import usd
from meshclaw.clarity import access, views
from meshclaw.clarity.adoption import COHORTS, GroupAdoption, cohort_of, is_active
from meshclaw.clarity.costs import UsageRow
from meshclaw.clarity.flag_store import StoredFlag, list_flags
from meshclaw.clarity.outcomes import OutcomeReport
from meshclaw.clarity.weeks import monday_of
from meshclaw.context import AppContext
from meshclaw.errors import BadRequestError
from meshclaw.identity.principal import Principal
from meshclaw.web.clarity_range import PickedRange
from meshclaw.web.clarity_tables import Column, Table, Value

API = "/api/v1/clarity"
USAGE_COLUMNS = (
    Column(key="requests", label="Requests"),
    Column(key="errors", label="Failed"),
    Column(key="total_tokens", label="Tokens", unit="tokens"),
    Column(key="effective_tokens", label="Effective tokens", unit="tokens"),
    Column(key="cost_usd", label="Cost", unit="usd"),
)
GROUP_LABELS = {
    "team": "Team",
    "user": "Person",
    "agent": "Agent",
    "model": "Model",
    "client": "App",
    "source": "Source",
    "initiator": "Started by",
}
_NONE_LABELS = {"model": "unknown model", "client": "unknown app", "team": "no team", "agent": "no agent"}


@dataclass(frozen=True, kw_only=True)
class Ask:
    session: Session
    context: AppContext
    principal: Principal
    window: PickedRange
    team: str | None = None
    user: str | None = None
    agent: int | None = None

    @property
    def today(self) -> date:
        return self.context.clock.now().date()

    @property
    def export_query(self) -> str:
        return self.window.query(team=self.team, user=self.user, agent=self.agent)

    def api(self, path: str, **extra: str | int | bool | None) -> str:
        values = {
            key: "true" if value is True else value
            for key, value in extra.items()
            if value not in (None, "", False)
        }
        return f"{API}/{path}?" + self.window.api_query(**values)


def _usage_values(row: UsageRow) -> tuple[Value, ...]:
    return (
        row.requests,
        row.errors,
        row.total_tokens,
        row.effective_tokens,
        usd(row.cost_microusd),
    )


def _href(principal: Principal, group_by: str | None, key: int | str | None) -> str | None:
    """A link to the row's own page, only where the reader may open it (no links to a 403)."""
    if not isinstance(key, int):
        return None
    if group_by == "team" and (principal.team_id == key or access.sees_people_of(principal, key)):
        return f"/clarity/teams/{key}"
    if group_by == "user":
        return f"/clarity/people/{key}"  # the rows are already only the people the reader may see
    if group_by == "agent":
        return f"/clarity/agents/{key}"
    return None


def usage(ask: Ask, group_by: str | None, *, daily: bool = False) -> Table:
    """Usage and cost grouped (`group_by`), or as a daily series; for the agent page, one agent's."""
    wanted = "agent" if ask.agent is not None else group_by
    view = views.usage(
        ask.session,
        ask.principal.org_id,
        ask.principal,
        since=ask.window.since,
        until=ask.window.until,
        group_by=wanted,
        daily=daily,
        user=ask.user,
        team=ask.team,
        today=ask.today,
        agent=ask.agent,  # one agent's rows from the database, not every agent's filtered here
    )
    rows = [row for row in view.rows if ask.agent is None or row.key == ask.agent]
    columns: list[Column] = []
    if daily:
        columns.append(Column(key="day", label="Day", unit="date"))
    if group_by is not None and ask.agent is None:
        columns.append(Column(key=group_by, label=GROUP_LABELS[group_by], unit="text"))
    built: list[tuple[Value, ...]] = []
    hrefs: list[str | None] = []
    for row in rows:
        hrefs.append(_href(ask.principal, group_by, row.key) if not daily and ask.agent is None else None)
        label = row.label or (
            str(row.key) if row.key is not None else _NONE_LABELS.get(group_by or "", "none")
        )
        head: list[Value] = []
        if daily:
            head.append(row.day)
        if group_by is not None and ask.agent is None:
            head.append(label)
        built.append((*head, *_usage_values(row)))
    name = "usage-" + (group_by or "total") + ("-daily" if daily else "")
    what = ""
    if group_by and ask.agent is None:
        what = "by who started it" if group_by == "initiator" else f"by {GROUP_LABELS[group_by].lower()}"
    caption = ("Usage and cost per day " + what if daily else "Usage and cost " + what).strip()
    return Table(
        name=name,
        caption=caption,
        columns=(*columns, *USAGE_COLUMNS),
        rows=built,
        hrefs=hrefs,
        empty="No AI use recorded in this range.",
        api=ask.api("usage", group_by=wanted, series=daily, team=ask.team, user=ask.user),
        export_query=ask.export_query,
    )


COHORT_LABELS = {"none": "No use", "light": "Light use", "moderate": "Moderate use", "heavy": "Heavy use"}
ADOPTION_GROUP_COLUMNS = (
    Column(key="people", label="People"),
    Column(key="active", label="Active"),
    Column(key="rate", label="Active share", unit="rate"),
    Column(key="goal", label="Goal", unit="rate"),
    *(Column(key=f"cohort_{name}", label=COHORT_LABELS[name]) for name in COHORTS),
    Column(key="human_tokens", label="Human-started tokens", unit="tokens"),
    Column(key="automation_tokens", label="Automation tokens", unit="tokens"),
)


def _group_values(group: GroupAdoption, goal: float) -> tuple[Value, ...]:
    return (
        group.people,
        group.active,
        group.rate,
        goal,
        *(group.cohorts[name] for name in COHORTS),
        group.human_tokens,
        group.automation_tokens,
    )


@dataclass(frozen=True, kw_only=True)
class Adoption:
    weeks: Table
    """Per week: the organization's, one team's, or one person's."""
    teams: Table | None
    """Organization-wide only: each shown team in the last week of the range."""
    goal: float


def adoption(ask: Ask) -> Adoption:
    view = views.adoption(
        ask.session,
        ask.principal.org_id,
        ask.principal,
        since=ask.window.since,
        until=ask.window.until,
        team=ask.team,
        user=ask.user,
        today=ask.today,
        per_team="last_week",  # the page shows teams for the last week of the range only
    )
    goal = view.config.weekly_goal
    api = ask.api("adoption", team=ask.team, user=ask.user)
    week_column = Column(key="week_start", label="Week of", unit="date")
    if view.person_weeks is not None:
        person_rows: list[tuple[Value, ...]] = [
            (
                monday,
                is_active(week, view.config),
                cohort_of(week),
                week.human_days,
                week.human_requests,
                week.human_tokens,
                week.automation_tokens,
                week.accepted_outcomes,
            )
            for monday, week in view.person_weeks
        ]
        table = Table(
            name="adoption",
            caption="Weekly use",
            columns=(
                week_column,
                Column(key="active", label="Active", unit="yes_no"),
                Column(key="cohort", label="Use", unit="text"),
                Column(key="human_days", label="Days with use"),
                Column(key="human_requests", label="Requests"),
                Column(key="human_tokens", label="Tokens", unit="tokens"),
                Column(key="automation_tokens", label="Automation tokens", unit="tokens"),
                Column(key="accepted_outcomes", label="Accepted outcomes"),
            ),
            rows=person_rows,
            empty="No weeks in this range.",
            api=api,
            export_query=ask.export_query,
        )
        return Adoption(weeks=table, teams=None, goal=goal)
    one_team = next(iter(view.team_names)) if ask.team else None
    rows = [
        (
            week.week_start,
            *_group_values(
                (week.teams.get(one_team) or GroupAdoption()) if one_team is not None else week.organization,
                goal,
            ),
        )
        for week in view.weeks
    ]
    weeks = Table(
        name="adoption",
        caption="Weekly adoption" + (" of the team" if one_team is not None else " of the organization"),
        columns=(week_column, *ADOPTION_GROUP_COLUMNS),
        rows=rows,
        empty="No weeks in this range.",
        api=api,
        export_query=ask.export_query,
    )
    teams = None
    if one_team is None:
        last = view.weeks[-1] if view.weeks else None
        team_rows = [
            (name, *_group_values((last.teams.get(team_id) or GroupAdoption()), goal))
            for team_id, name in sorted(view.team_names.items(), key=lambda item: item[1])
            if last is not None
        ]
        teams = Table(
            name="adoption-teams",
            caption="Adoption by team, week of "
            + (last.week_start.isoformat() if last else "—")
            + " (teams of 5 or more people)",
            columns=(Column(key="team", label="Team", unit="text"), *ADOPTION_GROUP_COLUMNS),
            rows=team_rows,
            empty="No team has 5 or more people yet; smaller teams are left out of organization-wide views.",
            api=api,
            export_query=ask.export_query,
        )
    return Adoption(weeks=weeks, teams=teams, goal=goal)


def outcomes(ask: Ask) -> tuple[Table, OutcomeReport]:
    _, report = views.outcomes(
        ask.session,
        ask.principal.org_id,
        ask.principal,
        since=ask.window.since,
        until=ask.window.until,
        user=ask.user,
        team=ask.team,
        agent=str(ask.agent) if ask.agent is not None else None,
        today=ask.today,
    )
    table = Table(
        name="outcomes",
        caption="Outcomes by type",
        columns=(
            Column(key="type", label="Outcome", unit="text"),
            Column(key="count", label="Count"),
            Column(key="quantity", label="Quantity", unit="number"),
            Column(key="accepted", label="Accepted"),
            Column(key="rejected", label="Rejected"),
            Column(key="acceptance_rate", label="Acceptance", unit="rate"),
            Column(key="minutes_saved", label="Time saved", unit="minutes"),
        ),
        rows=[
            (
                item.type,
                item.count,
                item.quantity,
                item.accepted,
                item.rejected,
                item.acceptance_rate,
                item.minutes_saved,
            )
            for item in report.types
        ],
        empty="No outcomes recorded in this range.",
        api=ask.api(
            "outcomes", team=ask.team, user=ask.user, agent=str(ask.agent) if ask.agent is not None else None
        ),
        export_query=ask.export_query,
    )
    return table, report


def leaderboard(ask: Ask) -> Table:
    """Teams (organization-wide) or, with a team, its people where an admin turned the board on (403
    otherwise). Ranked by outcomes; no token counts and never flags."""
    view = views.leaderboard(
        ask.session,
        ask.principal.org_id,
        ask.principal,
        since=ask.window.since,
        until=ask.window.until,
        team=ask.team,
        rank_by="outcomes",
        today=ask.today,
    )
    people = view.scope == "teams"
    columns = (
        Column(key="rank", label="Rank"),
        Column(key="name", label="Team" if people else "Person", unit="text"),
        Column(key="value_units", label="Value units per person" if people else "Value units", unit="number"),
        Column(key="accepted_outcomes", label="Accepted outcomes"),
        Column(
            key="outcomes_per_1k_effective_tokens", label="Value per 1,000 effective tokens", unit="number"
        ),
    )
    return Table(
        name="leaderboard",
        caption="Teams ranked by outcomes (teams of 5 or more people)" if people else "Ranked by outcomes",
        columns=columns,
        rows=[
            (e.rank, e.label, e.value_units, e.accepted_outcomes, e.outcomes_per_1k_effective_tokens)
            for e in view.entries
        ],
        empty="Nothing to rank in this range.",
        api=ask.api("leaderboard", team=ask.team),
        export_query=ask.export_query,
    )


def flags(ask: Ask) -> Table:
    """The flags the reader may see (their own, or everyone's for admins and auditors), scoring the
    weeks of the range that need it first (`views.flags`)."""
    _, listed = views.flags(
        ask.session,
        ask.principal,
        since=ask.window.since,
        until=ask.window.until,
        now=ask.context.clock.now(),
    )
    return flag_table(ask, listed)


def person_flags(ask: Ask, user_id: int) -> Table:
    """The stored flags about one person, for their page. It does not score weeks: opening a person's
    page must not start the detector over the whole organization (the flags page and API do that).
    The caller decides whether the reader may see them (the person, admins, auditors)."""
    first, last = monday_of(ask.window.first), monday_of(ask.window.last)
    return flag_table(ask, list_flags(ask.session, first, last, user_id=user_id))


def flag_table(ask: Ask, stored: list[StoredFlag], *, caption: str = "Patterns to review") -> Table:
    return Table(
        name="flags",
        caption=caption,
        columns=(
            Column(key="id", label="Id"),
            Column(key="week_start", label="Week of", unit="date"),
            Column(key="subject", label="Who", unit="text"),
            Column(key="kind", label="Kind", unit="text"),
            Column(key="score", label="Score", unit="number"),
            Column(key="signals", label="Signals", unit="text"),
            Column(key="status", label="Status", unit="text"),
            Column(key="review_note", label="Review note", unit="text"),
        ),
        rows=[
            (
                item.id,
                item.flag.week_start,
                item.flag.subject,
                item.flag.kind,
                item.flag.score,
                " ".join(signal.name for signal in item.flag.signals),
                item.status,
                item.review_note,
            )
            for item in stored
        ],
        empty="No patterns to review in this range.",
        api=f"{API}/flags?" + ask.window.api_query(),
        export_query=ask.window.query(),
    )


def budgets(ask: Ask) -> Table:
    """Budgets this reader may see (the same rule as /api/v1/budgets), spend this period."""
    statuses = visible_status(ask.principal, ask.context)
    rows: list[tuple[Value, ...]] = []
    for status in statuses:
        if status.spent is None:
            continue  # rate and concurrency limits have no period spend
        scale = 1_000_000 if status.unit == "usd" else 1
        rows.append(
            (
                status.subject.scope,
                status.description,
                status.spent / scale,
                status.amount / scale,
                status.used_share,
                status.resets_at.date() if status.resets_at else None,
            )
        )
    return Table(
        name="budgets",
        caption="Budgets this period",
        columns=(
            Column(key="subject", label="For", unit="text"),
            Column(key="budget", label="Budget", unit="text"),
            Column(key="spent", label="Spent", unit="number"),
            Column(key="limit", label="Limit", unit="number"),
            Column(key="used", label="Used", unit="rate"),
            Column(key="resets", label="Resets", unit="date"),
        ),
        rows=rows,
        empty="No spending budgets apply to what you can see.",
        api="/api/v1/budgets",
        export_query=ask.window.query(),
    )


def adoption_teams(ask: Ask) -> Table:
    teams = adoption(ask).teams
    if teams is None:
        raise BadRequestError("adoption by team is an organization-wide table: leave out team and user")
    return teams
