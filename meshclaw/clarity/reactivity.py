"""Team level: did tokens rise without outcomes after a target or leaderboard was introduced?

For each team with a recorded introduction (`clarity_team_settings.target_introduced_at`, set when an
admin turns the team's leaderboard on, or given explicitly), compare the `WEEKS` full weeks before the
introduction with the weeks after it (up to `WEEKS`, only whole weeks that have ended): effective tokens
and value units per week. The same ratios for teams without a target over the same weeks are the control
(a difference-in-differences, so an organization-wide rise, a new model, or a holiday is not blamed on
the target). The team is flagged when its tokens rose by half or more beyond the control's change while
its value units did not rise beyond the control's.

Two grouped queries per team with a target over the day rollups (a handful of teams, not people).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.clarity.measures import effective_tokens, value_units
from meshclaw.clarity.settings_store import all_team_settings
from meshclaw.clarity.weeks import monday_of, week_bounds
from meshclaw.db.models import OutcomeRollup, UsageRollup

WEEKS = 4
TOKEN_RISE = 1.5
"""Tokens after / before, beyond the control's ratio, from which a rise counts."""


@dataclass(frozen=True, kw_only=True)
class Period:
    since: date
    until: date
    effective_tokens: float
    value_units: float


@dataclass(frozen=True, kw_only=True)
class Reactivity:
    team_id: int
    introduced_at: datetime
    before: Period
    after: Period | None
    """None until a whole week after the introduction has ended."""
    token_ratio: float | None
    value_ratio: float | None
    control_token_ratio: float | None
    control_value_ratio: float | None
    flagged: bool
    explanation: str


def _sums(
    session: Session, since: date, until: date, *, team_ids: list[int], exclude: bool
) -> tuple[float, float]:
    start, _ = week_bounds(since)
    end, _ = week_bounds(until)
    r, o = UsageRollup, OutcomeRollup
    usage_team = r.team_id.not_in(team_ids) if exclude else r.team_id.in_(team_ids)
    outcome_team = o.team_id.not_in(team_ids) if exclude else o.team_id.in_(team_ids)
    tokens = session.scalar(
        select(effective_tokens()).where(
            r.bucket == "day", r.bucket_start >= start, r.bucket_start < end, usage_team, r.team_id > 0
        )
    )
    value = session.scalar(
        select(value_units()).where(
            o.bucket == "day", o.bucket_start >= start, o.bucket_start < end, outcome_team, o.team_id > 0
        )
    )
    return float(tokens or 0.0), float(value or 0.0)


def _ratio(after: float, before: float, weeks_after: int) -> float | None:
    if before <= 0:
        return None
    return round((after / weeks_after) / (before / WEEKS), 3)


def team_reactivity(session: Session, *, now: datetime) -> list[Reactivity]:
    """Every team with a recorded target or leaderboard introduction."""
    introduced = {
        team.team_id: team.target_introduced_at
        for team in all_team_settings(session).values()
        if team.target_introduced_at is not None
    }
    answers: list[Reactivity] = []
    for team_id, moment in sorted(introduced.items()):
        first_after = monday_of(moment.date()) + timedelta(days=7)  # the week of the change is left out
        before_since = first_after - timedelta(days=7 * (WEEKS + 1))
        before_until = before_since + timedelta(days=7 * WEEKS)
        ended = (monday_of(now.date()) - first_after).days // 7
        weeks_after = max(0, min(WEEKS, ended))
        tokens_before, value_before = _sums(
            session, before_since, before_until, team_ids=[team_id], exclude=False
        )
        before = Period(
            since=before_since, until=before_until, effective_tokens=tokens_before, value_units=value_before
        )
        if weeks_after == 0:
            answers.append(
                Reactivity(
                    team_id=team_id,
                    introduced_at=moment,
                    before=before,
                    after=None,
                    token_ratio=None,
                    value_ratio=None,
                    control_token_ratio=None,
                    control_value_ratio=None,
                    flagged=False,
                    explanation="no whole week since the introduction yet",
                )
            )
            continue
        after_until = first_after + timedelta(days=7 * weeks_after)
        tokens_after, value_after = _sums(
            session, first_after, after_until, team_ids=[team_id], exclude=False
        )
        others = list(introduced)
        control_before = _sums(session, before_since, before_until, team_ids=others, exclude=True)
        control_after = _sums(session, first_after, after_until, team_ids=others, exclude=True)
        token_ratio = _ratio(tokens_after, tokens_before, weeks_after)
        value_ratio = _ratio(value_after, value_before, weeks_after)
        control_tokens = _ratio(control_after[0], control_before[0], weeks_after)
        control_value = _ratio(control_after[1], control_before[1], weeks_after)
        token_rise = (token_ratio or 0.0) / (control_tokens or 1.0)
        value_rise = (value_ratio if value_ratio is not None else (1.0 if value_after == 0 else 2.0)) / (
            control_value or 1.0
        )
        flagged = token_ratio is not None and token_rise >= TOKEN_RISE and value_rise <= 1.1
        explanation = (
            f"effective tokens per week x{token_ratio} (other teams x{control_tokens}), value units per week "
            f"x{value_ratio} (other teams x{control_value}) in {weeks_after} week(s) after vs {WEEKS} before"
        )
        if flagged:
            explanation = "tokens rose without outcomes after the target: " + explanation
        answers.append(
            Reactivity(
                team_id=team_id,
                introduced_at=moment,
                before=before,
                after=Period(
                    since=first_after,
                    until=after_until,
                    effective_tokens=tokens_after,
                    value_units=value_after,
                ),
                token_ratio=token_ratio,
                value_ratio=value_ratio,
                control_token_ratio=control_tokens,
                control_value_ratio=control_value,
                flagged=flagged,
                explanation=explanation,
            )
        )
    return answers
