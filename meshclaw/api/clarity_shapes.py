"""JSON shapes of /api/v1/clarity answers, and their conversion from `meshclaw.clarity` results.

Shared by the API and `meshclaw clarity ... --json`, so both print the same document.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import orjson
from pydantic import BaseModel, Field

from meshclaw.clarity.adoption import COHORTS, GroupAdoption, PersonWeek, cohort_of, is_active
from meshclaw.clarity.config import ClarityConfig
from meshclaw.clarity.costs import UsageRow
from meshclaw.clarity.flag_store import StoredFlag
from meshclaw.clarity.forecast import Forecast
from meshclaw.clarity.leaderboard import Entry
from meshclaw.clarity.outcomes import OutcomeReport
from meshclaw.clarity.reactivity import Period as ReactivityPeriod
from meshclaw.clarity.reactivity import Reactivity
from meshclaw.clarity.views import AdoptionView, LeaderboardView, UsageView


def usd(microusd: float) -> float:
    return round(microusd / 1_000_000, 6)


class RuleOut(BaseModel):
    weekly_goal: float = Field(description="Share of people who should be active each week (0.8 = 80%)")
    active_min_days: int = Field(description="Active: human-initiated AI use on at least this many days ...")
    active_min_accepted: int = Field(description="... or at least this many accepted outcomes (0: off)")


class GroupAdoptionOut(BaseModel):
    people: int
    active: int
    rate: float = Field(description="active / people")
    goal_met: bool
    cohorts: dict[str, int] = Field(description="none, light (1 day), moderate (2-3 days), heavy (4+ days)")
    automation_people: int = Field(description="People with automation-initiated usage under their name")
    human_tokens: int
    automation_tokens: int


class TeamAdoptionOut(GroupAdoptionOut):
    team_id: int
    team: str


class WeekAdoptionOut(BaseModel):
    week_start: date
    organization: GroupAdoptionOut | None = Field(description="Null when the answer is about one team")
    teams: list[TeamAdoptionOut]


class PersonWeekOut(BaseModel):
    week_start: date
    active: bool
    cohort: str
    human_days: int
    human_requests: int
    human_tokens: int
    automation_requests: int
    automation_tokens: int
    accepted_outcomes: int


class AdoptionOut(BaseModel):
    since: date
    until: date = Field(description="Exclusive")
    rule: RuleOut
    weeks: list[WeekAdoptionOut]
    person: str | None = Field(description="The person's email when the answer is about one person")
    person_weeks: list[PersonWeekOut] | None


def _group(group: GroupAdoption, goal: float) -> dict[str, object]:
    rate = group.rate
    return {
        "people": group.people,
        "active": group.active,
        "rate": float(rate),
        "goal_met": group.people > 0 and rate >= goal,
        "cohorts": {cohort: group.cohorts[cohort] for cohort in COHORTS},
        "automation_people": group.automation_people,
        "human_tokens": group.human_tokens,
        "automation_tokens": group.automation_tokens,
    }


def _person_week(monday: date, week: PersonWeek, config: ClarityConfig) -> PersonWeekOut:
    return PersonWeekOut(
        week_start=monday,
        active=is_active(week, config),
        cohort=cohort_of(week),
        human_days=week.human_days,
        human_requests=week.human_requests,
        human_tokens=week.human_tokens,
        automation_requests=week.automation_requests,
        automation_tokens=week.automation_tokens,
        accepted_outcomes=week.accepted_outcomes,
    )


def adoption_out(view: AdoptionView, *, one_team: bool) -> AdoptionOut:
    goal = view.config.weekly_goal
    weeks = [
        WeekAdoptionOut(
            week_start=week.week_start,
            organization=None if one_team else GroupAdoptionOut(**_group(week.organization, goal)),
            teams=[
                TeamAdoptionOut(
                    team_id=team_id, team=name, **_group(week.teams.get(team_id) or GroupAdoption(), goal)
                )
                for team_id, name in sorted(view.team_names.items(), key=lambda item: item[1])
            ],
        )
        for week in view.weeks
    ]
    return AdoptionOut(
        since=view.window.since,
        until=view.window.until,
        rule=RuleOut(
            weekly_goal=goal,
            active_min_days=view.config.active_min_days,
            active_min_accepted=view.config.active_min_accepted,
        ),
        weeks=weeks,
        person=view.person[1] if view.person else None,
        person_weeks=[_person_week(m, w, view.config) for m, w in view.person_weeks]
        if view.person_weeks is not None
        else None,
    )


class UsageRowOut(BaseModel):
    key: int | str | None = Field(description="Team, user or agent id, or model, client, source, initiator")
    label: str | None
    day: date | None = Field(description="Set in a daily series")
    requests: int
    errors: int
    input_uncached: int
    cache_read: int
    cache_write: int
    output: int
    reasoning: int
    total_tokens: int
    effective_tokens: float = Field(description="Weighted by bucket and model (see README, Clarity)")
    cost_usd: float


class UsageOut(BaseModel):
    since: date
    until: date
    group_by: str | None
    rows: list[UsageRowOut]
    totals: UsageRowOut


def adoption_json(view: AdoptionView, *, one_team: bool) -> bytes:
    """`adoption_out(view, one_team=...)` as JSON, built from plain dicts: organization-wide that is a
    group per team and week (~7,500 over half a year), and a model per group cost more than reading them.
    Same document byte for byte (tests/clarity/test_usage_json.py)."""
    goal = view.config.weekly_goal
    names = sorted(view.team_names.items(), key=lambda item: item[1])
    weeks = [
        {
            "week_start": week.week_start,
            "organization": None if one_team else _group(week.organization, goal),
            "teams": [
                {
                    **_group(week.teams.get(team_id) or GroupAdoption(), goal),
                    "team_id": team_id,
                    "team": name,
                }
                for team_id, name in names
            ],
        }
        for week in view.weeks
    ]
    rule = RuleOut(
        weekly_goal=goal,
        active_min_days=view.config.active_min_days,
        active_min_accepted=view.config.active_min_accepted,
    )
    return orjson.dumps(
        {
            "since": view.window.since,
            "until": view.window.until,
            "rule": rule.model_dump(),
            "weeks": weeks,
            "person": view.person[1] if view.person else None,
            "person_weeks": [_person_week(m, w, view.config).model_dump() for m, w in view.person_weeks]
            if view.person_weeks is not None
            else None,
        }
    )


def usage_json(view: UsageView) -> bytes:
    """`usage_out(view)` as JSON, built from plain dicts: per person that is ~5,000 rows, and building
    and then validating a model per row cost more than the query. Same fields, same values, same order
    (tests/clarity/test_api.py compares the two)."""
    rows: list[dict[str, Any]] = []
    totals: dict[str, Any] = {"key": None, "label": "total", "day": None}
    names = ("requests", "errors", "input_uncached", "cache_read", "cache_write", "output", "reasoning",
             "total_tokens")  # fmt: skip
    sums = dict.fromkeys(names, 0)
    effective = 0.0
    for row in view.rows:
        values = {
            "requests": row.requests,
            "errors": row.errors,
            **row.tokens,
            "total_tokens": row.total_tokens,
        }
        for name in names:
            sums[name] += values[name]
        effective += row.effective_tokens
        rows.append(
            {
                "key": row.key,
                "label": row.label,
                "day": row.day,
                **{name: values[name] for name in names},
                "effective_tokens": row.effective_tokens,
                "cost_usd": usd(row.cost_microusd),
            }
        )
    totals.update(sums)
    totals["effective_tokens"] = round(effective, 1)
    totals["cost_usd"] = usd(sum(row.cost_microusd for row in view.rows))
    return orjson.dumps(
        {
            "since": view.window.since,
            "until": view.window.until,
            "group_by": view.group_by,
            "rows": rows,
            "totals": totals,
        }
    )


def _usage_row(row: UsageRow) -> UsageRowOut:
    return UsageRowOut(
        key=row.key,
        label=row.label,
        day=row.day,
        requests=row.requests,
        errors=row.errors,
        total_tokens=row.total_tokens,
        effective_tokens=row.effective_tokens,
        cost_usd=usd(row.cost_microusd),
        **row.tokens,
    )


def usage_out(view: UsageView) -> UsageOut:
    rows = [_usage_row(row) for row in view.rows]
    sums = {
        name: sum(getattr(row, name) for row in rows)
        for name in (
            "requests",
            "errors",
            "input_uncached",
            "cache_read",
            "cache_write",
            "output",
            "reasoning",
            "total_tokens",
        )
    }
    totals = UsageRowOut(
        key=None,
        label="total",
        day=None,
        effective_tokens=round(sum(row.effective_tokens for row in rows), 1),
        cost_usd=usd(sum(row.cost_microusd for row in view.rows)),
        **sums,
    )
    return UsageOut(
        since=view.window.since, until=view.window.until, group_by=view.group_by, rows=rows, totals=totals
    )


class ForecastOut(BaseModel):
    month_start: date
    month_end: date
    as_of: date
    days_elapsed: int
    days_left: int
    month_to_date_cost_usd: float
    month_to_date_tokens: int
    pace_cost_usd_per_day: float = Field(description="Mean of the last 7 full days")
    pace_tokens_per_day: float
    pace_effective_tokens_per_day: float
    forecast_cost_usd: float
    forecast_tokens: int


def forecast_out(forecast: Forecast) -> ForecastOut:
    return ForecastOut(
        month_start=forecast.month_start,
        month_end=forecast.month_end,
        as_of=forecast.as_of,
        days_elapsed=forecast.days_elapsed,
        days_left=forecast.days_left,
        month_to_date_cost_usd=usd(forecast.month_to_date_cost_microusd),
        month_to_date_tokens=forecast.month_to_date_tokens,
        pace_cost_usd_per_day=usd(forecast.pace_cost_microusd_per_day),
        pace_tokens_per_day=round(forecast.pace_tokens_per_day, 1),
        pace_effective_tokens_per_day=forecast.pace_effective_tokens_per_day,
        forecast_cost_usd=usd(forecast.forecast_cost_microusd),
        forecast_tokens=forecast.forecast_tokens,
    )


class OutcomeTypeOut(BaseModel):
    type: str
    count: int
    quantity: float
    accepted: int
    rejected: int
    acceptance_rate: float | None = Field(description="accepted / (accepted + rejected); null: not decisions")
    minutes_saved: float


class OutcomesOut(BaseModel):
    since: date
    until: date
    types: list[OutcomeTypeOut]
    value_units: float = Field(description="Outcomes counted as value (see README, Clarity)")
    minutes_saved: float
    total_tokens: int
    effective_tokens: float
    cost_usd: float
    tokens_per_outcome: float | None
    cost_usd_per_outcome: float | None
    outcomes_per_1k_effective_tokens: float | None
    coding: dict[str, float] = Field(description="commits, pull_requests, lines_added, lines_removed, edits")


def outcomes_out(since: date, until: date, report: OutcomeReport) -> OutcomesOut:
    per = report.cost_microusd_per_outcome
    return OutcomesOut(
        since=since,
        until=until,
        types=[
            OutcomeTypeOut(
                type=item.type,
                count=item.count,
                quantity=item.quantity,
                accepted=item.accepted,
                rejected=item.rejected,
                acceptance_rate=item.acceptance_rate,
                minutes_saved=item.minutes_saved,
            )
            for item in report.types
        ],
        value_units=report.value_units,
        minutes_saved=report.minutes_saved,
        total_tokens=report.total_tokens,
        effective_tokens=report.effective_tokens,
        cost_usd=usd(report.cost_microusd),
        tokens_per_outcome=report.tokens_per_outcome,
        cost_usd_per_outcome=usd(per) if per is not None else None,
        outcomes_per_1k_effective_tokens=report.outcomes_per_1k_effective_tokens,
        coding=report.coding,
    )


class EntryOut(BaseModel):
    rank: int
    key: int = Field(description="Team id or user id")
    label: str
    value_units: float = Field(description="Teams: per person")
    accepted_outcomes: int
    outcomes_per_1k_effective_tokens: float | None
    people: int | None


class LeaderboardOut(BaseModel):
    since: date
    until: date
    rank_by: str
    scope: str = Field(description="teams (organization-wide, teams of 5 or more) or people (one team)")
    team_id: int | None
    entries: list[EntryOut]


def _entry(entry: Entry) -> EntryOut:
    return EntryOut(
        rank=entry.rank,
        key=entry.key,
        label=entry.label,
        value_units=entry.value_units,
        accepted_outcomes=entry.accepted_outcomes,
        outcomes_per_1k_effective_tokens=entry.outcomes_per_1k_effective_tokens,
        people=entry.people,
    )


def leaderboard_out(view: LeaderboardView) -> LeaderboardOut:
    return LeaderboardOut(
        since=view.window.since,
        until=view.window.until,
        rank_by=view.rank_by,
        scope=view.scope,
        team_id=view.team_id,
        entries=[_entry(entry) for entry in view.entries],
    )


class SignalOut(BaseModel):
    name: str
    value: float
    baseline: float = Field(description="The peers' median, or the fixed bar the rule uses")
    description: str


class FlagOut(BaseModel):
    id: int
    week_start: date
    subject: str = Field(description="A person's email or an agent's name")
    kind: str = Field(description="person or agent")
    user_id: int | None
    agent_id: int | None
    score: float
    signals: list[SignalOut]
    explanation: str
    evidence: list[str] = Field(description="Links to the records behind the flag")
    status: str = Field(description="open, confirmed or dismissed")
    detected_at: datetime
    reviewed_by_user_id: int | None
    reviewed_at: datetime | None
    review_note: str | None


class FlagsOut(BaseModel):
    since: date
    until: date
    flags: list[FlagOut]


def flag_out(stored: StoredFlag) -> FlagOut:
    flag = stored.flag
    return FlagOut(
        id=stored.id,
        week_start=flag.week_start,
        subject=flag.subject,
        kind=flag.kind,
        user_id=flag.user_id,
        agent_id=flag.agent_id,
        score=flag.score,
        signals=[
            SignalOut(name=s.name, value=s.value, baseline=s.baseline, description=s.description)
            for s in flag.signals
        ],
        explanation=flag.explanation,
        evidence=list(flag.evidence),
        status=stored.status,
        detected_at=stored.detected_at,
        reviewed_by_user_id=stored.reviewed_by_user_id,
        reviewed_at=stored.reviewed_at,
        review_note=stored.review_note,
    )


def flags_out(since: date, until: date, stored: list[StoredFlag]) -> FlagsOut:
    return FlagsOut(since=since, until=until, flags=[flag_out(item) for item in stored])


class PeriodOut(BaseModel):
    since: date
    until: date = Field(description="Exclusive")
    effective_tokens: float
    value_units: float


class ReactivityOut(BaseModel):
    team_id: int
    team: str
    introduced_at: datetime = Field(description="When the team got a target or leaderboard")
    before: PeriodOut
    after: PeriodOut | None = Field(description="Null until a whole week after the introduction has ended")
    token_ratio: float | None = Field(description="Effective tokens per week, after / before")
    value_ratio: float | None
    control_token_ratio: float | None = Field(description="The same for teams without a target")
    control_value_ratio: float | None
    flagged: bool = Field(description="Tokens rose without outcomes after the introduction")
    explanation: str


def reactivity_out(names: dict[int, str], answers: list[Reactivity]) -> list[ReactivityOut]:
    def period(value: ReactivityPeriod | None) -> PeriodOut | None:
        if value is None:
            return None
        return PeriodOut(
            since=value.since,
            until=value.until,
            effective_tokens=round(value.effective_tokens, 1),
            value_units=round(value.value_units, 2),
        )

    return [
        ReactivityOut(
            team_id=answer.team_id,
            team=names.get(answer.team_id, str(answer.team_id)),
            introduced_at=answer.introduced_at,
            before=PeriodOut(
                since=answer.before.since,
                until=answer.before.until,
                effective_tokens=round(answer.before.effective_tokens, 1),
                value_units=round(answer.before.value_units, 2),
            ),
            after=period(answer.after),
            token_ratio=answer.token_ratio,
            value_ratio=answer.value_ratio,
            control_token_ratio=answer.control_token_ratio,
            control_value_ratio=answer.control_value_ratio,
            flagged=answer.flagged,
            explanation=answer.explanation,
        )
        for answer in answers
    ]
