"""What the detector measures for one week: per person and per agent, in a fixed number of queries.

One streamed pass over the week's usage events (cadence, prompt repetition, sessions, clients and
errors need single calls; the `started_at` index bounds the scan to the week), one over the week's
activity events of interest (tool results, API errors), grouped sums over the outcome rollups, and the
daily effective tokens of the four weeks before from the rollups (personal baselines). Nothing is
queried per person, so a week of 5,000 people costs the same handful of queries as a week of 5.

A person's own use is their calls without an agent; calls an agent made count for the agent.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meshclaw.clarity.flags import FlagKind
from meshclaw.clarity.measures import effective_tokens, effective_tokens_of, value_units
from meshclaw.clarity.weeks import week_bounds
from meshclaw.db.models import ActivityEventRow, OutcomeRollup, UsageEventRow, UsageRollup

SubjectKey = tuple[FlagKind, int]
"""("person", user id) or ("agent", agent id)."""

READ_TOOLS = frozenset(
    {
        "read",
        "grep",
        "glob",
        "ls",
        "webfetch",
        "websearch",
        "read_file",
        "read_many_files",
        "search_file_content",
        "list_directory",
        "glob_files",
        "web_fetch",
        "google_web_search",
        "notebookread",
    }
)
WRITE_TOOLS = frozenset(
    {"edit", "write", "multiedit", "notebookedit", "write_file", "replace", "apply_patch", "edit_file"}
)
HEADLESS_ENTRYPOINTS = ("sdk", "headless")
"""`app.entrypoint` values (Claude Code: sdk-cli, sdk-ts, sdk-py) and client names of scripted use."""
_ACTIVITY_NAMES = ("tool_result", "api_error", "tool.call")
HISTORY_WEEKS = 4


@dataclass(kw_only=True)
class SubjectWeek:
    kind: FlagKind
    id: int
    user_id: int | None = None
    """For an agent, the person most of its calls were made for."""
    requests: int = 0
    errors: int = 0
    effective_tokens: float = 0.0
    headless_effective_tokens: float = 0.0
    """Initiated by automation, or from a headless/SDK client, without an agent: scripts on a person's key."""
    hashed_requests: int = 0
    repeated_prompts: int = 0
    """Requests whose normalized prompt hash this subject already sent earlier in the week."""
    gap_count: int = 0
    gap_sum: float = 0.0
    gap_square_sum: float = 0.0
    active_hours: int = 0
    active_days: int = 0
    peak_sessions: int = 0
    """Most sessions running at once (overlapping first-to-last call windows)."""
    sessions: int = 0
    retry_attempts: int = 0
    """API errors reported with a retry attempt of 3 or more."""
    read_tools: int = 0
    write_tools: int = 0
    value_units: float = 0.0
    accepted: int = 0
    rejected: int = 0
    daily_history: list[float] = field(default_factory=list)
    """Effective tokens per day with use, in the four weeks before."""
    weekly_history: list[float] = field(default_factory=list)
    """Effective tokens per week, oldest first, the four weeks before and this one."""
    ordinary_day_history: list[float] = field(default_factory=list)
    """The same, Monday to Thursday outside a month's last three days: the baseline for snapshot spikes."""
    friday_effective_tokens: float = 0.0
    """This week's Friday, the last working day before a weekly leaderboard snapshot."""
    month_end_effective_tokens: float = 0.0
    month_end_days: int = 0
    """Days of this week among the last three of a calendar month."""

    @property
    def cadence_cv(self) -> float | None:
        """Coefficient of variation of the gaps between calls: near 0 is a metronome, a person is > 1."""
        if self.gap_count < 2 or self.gap_sum <= 0:
            return None
        mean = self.gap_sum / self.gap_count
        variance = max(0.0, self.gap_square_sum / self.gap_count - mean * mean)
        return math.sqrt(variance) / mean

    @property
    def yield_per_1k(self) -> float:
        return self.value_units * 1000 / self.effective_tokens if self.effective_tokens else 0.0


def _key(user_id: int | None, agent_id: int | None) -> SubjectKey | None:
    if agent_id:
        return ("agent", agent_id)
    if user_id:
        return ("person", user_id)
    return None


def _is_month_end(day: date) -> bool:
    return (day + timedelta(days=3)).month != day.month


def _usage_pass(
    session: Session, start: datetime, end: datetime, subjects: dict[SubjectKey, SubjectWeek]
) -> None:
    e = UsageEventRow
    last_call: dict[SubjectKey, datetime] = {}
    seen_hashes: dict[SubjectKey, set[str]] = defaultdict(set)
    hours: dict[SubjectKey, set[tuple[int, int]]] = defaultdict(set)
    spans: dict[SubjectKey, dict[str, list[datetime]]] = defaultdict(dict)
    owners: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    query = (
        select(
            e.user_id,
            e.agent_id,
            e.started_at,
            e.status,
            e.prompt_hash,
            e.session_id,
            e.client,
            e.initiator,
            e.model,
            e.input_uncached,
            e.cache_read,
            e.cache_write,
            e.output,
            e.reasoning,
            e.attributes,
        )
        .where(e.started_at >= start, e.started_at < end)
        .order_by(e.started_at)
        .execution_options(yield_per=5000)
    )
    for row in session.execute(query):
        (
            user_id,
            agent_id,
            started,
            status,
            prompt_hash,
            session_id,
            client,
            initiator,
            model,
            iu,
            cr,
            cw,
            out,
            rs,
            attrs,
        ) = row
        key = _key(user_id, agent_id)
        if key is None:
            continue
        subject = subjects.get(key)
        if subject is None:
            subject = subjects[key] = SubjectWeek(
                kind=key[0], id=key[1], user_id=user_id if key[0] == "person" else None
            )
        if key[0] == "agent" and user_id:
            owners[key[1]][user_id] += 1
        tokens = effective_tokens_of(
            model, input_uncached=iu, cache_read=cr, cache_write=cw, output=out, reasoning=rs
        )
        subject.requests += 1
        subject.effective_tokens += tokens
        if status == "error":
            subject.errors += 1
            attempt = (attrs or {}).get("attempt")
            if isinstance(attempt, int | float) and attempt >= 3:
                subject.retry_attempts += 1
        if key[0] == "person":
            entrypoint = str((attrs or {}).get("app.entrypoint", "")).lower()
            scripted = initiator == "automation" or any(
                part in entrypoint or part in (client or "").lower() for part in HEADLESS_ENTRYPOINTS
            )
            if scripted:
                subject.headless_effective_tokens += tokens
        if prompt_hash:
            subject.hashed_requests += 1
            if prompt_hash in seen_hashes[key]:
                subject.repeated_prompts += 1
            else:
                seen_hashes[key].add(prompt_hash)
        previous = last_call.get(key)
        if previous is not None:
            gap = (started - previous).total_seconds()
            subject.gap_count += 1
            subject.gap_sum += gap
            subject.gap_square_sum += gap * gap
        last_call[key] = started
        hours[key].add((started.toordinal(), started.hour))
        if session_id:
            span = spans[key].get(session_id)
            if span is None:
                spans[key][session_id] = [started, started]
            else:
                span[1] = started
    for key, subject in subjects.items():
        subject.active_hours = len(hours.get(key, ()))
        subject.active_days = len({day for day, _ in hours.get(key, ())})
        windows = spans.get(key, {})
        subject.sessions = len(windows)
        subject.peak_sessions = _peak_overlap(list(windows.values()))
        if key[0] == "agent" and owners.get(key[1]):
            subject.user_id = max(owners[key[1]].items(), key=lambda item: item[1])[0]


def _peak_overlap(windows: list[list[datetime]]) -> int:
    points = sorted(
        [(first, 1) for first, _ in windows] + [(last, -1) for _, last in windows],
        key=lambda p: (p[0], -p[1]),
    )
    running = peak = 0
    for _, step in points:
        running += step
        peak = max(peak, running)
    return peak


def _activity_pass(
    session: Session, start: datetime, end: datetime, subjects: dict[SubjectKey, SubjectWeek]
) -> None:
    a = ActivityEventRow
    query = (
        select(a.user_id, a.agent_id, a.name, a.attributes)
        .where(a.occurred_at >= start, a.occurred_at < end)
        .execution_options(yield_per=5000)
    )
    for user_id, agent_id, name, attrs in session.execute(query):
        if not name.endswith(_ACTIVITY_NAMES):
            continue
        key = _key(user_id, agent_id)
        subject = subjects.get(key) if key else None
        if subject is None:
            continue  # activity without any model call this week cannot burn tokens
        values: dict[str, Any] = attrs or {}
        if name.endswith("api_error"):
            attempt = values.get("attempt")
            if isinstance(attempt, int | float) and attempt >= 3:
                subject.retry_attempts += 1
            continue
        tool = str(values.get("tool_name") or values.get("function_name") or "").lower()
        if tool in READ_TOOLS:
            subject.read_tools += 1
        elif tool in WRITE_TOOLS:
            subject.write_tools += 1


def _outcome_sums(
    session: Session, start: datetime, end: datetime, subjects: dict[SubjectKey, SubjectWeek]
) -> None:
    o = OutcomeRollup
    query = (
        select(o.user_id, o.agent_id, value_units(), func.sum(o.accepted), func.sum(o.rejected))
        .where(o.bucket == "day", o.bucket_start >= start, o.bucket_start < end)
        .group_by(o.user_id, o.agent_id)
    )
    for user_id, agent_id, value, accepted, rejected in session.execute(query):
        key = _key(user_id or None, agent_id or None)
        subject = subjects.get(key) if key else None
        if subject is None:
            continue  # outcomes without usage: nothing to judge
        subject.value_units += float(value or 0.0)
        subject.accepted += int(accepted or 0)
        subject.rejected += int(rejected or 0)


def _history(
    session: Session, start: datetime, end: datetime, subjects: dict[SubjectKey, SubjectWeek]
) -> None:
    r = UsageRollup
    first = start - timedelta(weeks=HISTORY_WEEKS)
    query = (
        select(r.user_id, r.agent_id, r.bucket_start, effective_tokens())
        .where(r.bucket == "day", r.bucket_start >= first, r.bucket_start < end)
        .group_by(r.user_id, r.agent_id, r.bucket_start)
    )
    weekly: dict[SubjectKey, list[float]] = defaultdict(lambda: [0.0] * (HISTORY_WEEKS + 1))
    for user_id, agent_id, day_start, value in session.execute(query):
        key = _key(user_id or None, agent_id or None)
        if key is None or key not in subjects or not value:
            continue
        subject = subjects[key]
        tokens = float(value)
        index = (day_start - first).days // 7
        weekly[key][index] += tokens
        ordinary = day_start.weekday() < 4 and not _is_month_end(day_start.date())
        if day_start < start:
            subject.daily_history.append(tokens)
            if ordinary:
                subject.ordinary_day_history.append(tokens)
        else:
            if _is_month_end(day_start.date()):
                subject.month_end_effective_tokens += tokens
            if day_start.weekday() == 4:
                subject.friday_effective_tokens += tokens
    for key, subject in subjects.items():
        subject.weekly_history = weekly.get(key, [0.0] * (HISTORY_WEEKS + 1))
        week_days = [start.date() + timedelta(days=offset) for offset in range(7)]
        subject.month_end_days = sum(_is_month_end(day) for day in week_days)


def collect(session: Session, week_start: date) -> dict[SubjectKey, SubjectWeek]:
    """Every person and agent with a model call in the week, measured."""
    start, end = week_bounds(week_start)
    subjects: dict[SubjectKey, SubjectWeek] = {}
    _usage_pass(session, start, end, subjects)
    _activity_pass(session, start, end, subjects)
    _outcome_sums(session, start, end, subjects)
    _history(session, start, end, subjects)
    return subjects
