"""What one simulated person does on one day: their model calls (when, which model, how many tokens of
each kind, whether it failed, in which session) and the outcomes they produced. Emitters turn a plan into
the events of the person's tool (`gateway.py`, `otlp.py`, `reports.py`).

Every draw comes from the person's own random generator, seeded from the simulation seed and their email,
so a person's days are the same whatever else is simulated alongside them.
"""

from __future__ import annotations

import calendar
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from meshclaw.simulation.behaviours import WEEKLY_TARGET_EFFECTIVE_TOKENS, Profile
from meshclaw.simulation.catalogue import CODING_MODELS, MODELS, OPENAI_MODELS, Model
from meshclaw.simulation.org import SimPerson

READ_TOOLS = ("Read", "Grep", "Glob", "WebFetch", "Read", "Read")
WORK_TOOLS = ("Read", "Edit", "Bash", "Grep", "Edit", "Write", "Bash", "Read", "MultiEdit")
ERROR_CODES = (429, 500, 529, 529, 408)
PROMPT_VERBS = ("refactor", "explain", "write tests for", "fix the failing", "review", "add logging to",
                "document", "speed up", "migrate", "summarize")  # fmt: skip
PROMPT_OBJECTS = ("the billing service", "this function", "the login flow", "our CI config", "the report",
                  "the parser", "the API handler", "the dashboard query", "the release notes", "the ticket")  # fmt: skip
REPEATED_PROMPTS = ("summarize the file {n} again in detail", "list every function in module {n}",
                    "explain line {n} of the build script", "rewrite section {n} of the docs in other words")  # fmt: skip


@dataclass(slots=True, kw_only=True)
class Call:
    start: datetime
    duration_ms: int
    model: Model
    uncached: int
    cache_read: int
    cache_write: int
    output: int
    reasoning: int
    cost_usd: float
    effective_tokens: float
    status_code: int = 200
    attempt: int = 1
    session: str
    prompt: str | None
    """The text that started this turn (only its normalized hash is ever recorded); None for the
    follow-up calls of an agentic tool loop."""
    tool_name: str

    @property
    def ok(self) -> bool:
        return self.status_code < 400


@dataclass(slots=True, kw_only=True)
class DayPlan:
    calls: list[Call] = field(default_factory=list)
    commits: int = 0
    prs: int = 0
    merged: int = 0
    edits_accepted: int = 0
    edits_rejected: int = 0
    lines_added: int = 0
    lines_removed: int = 0


def lognormal(rng: random.Random, mean: float, sigma: float) -> float:
    return rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)


def poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:  # normal approximation: exact enough for counts this large
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, product, k = math.exp(-lam), rng.random(), 0
    while product > limit:
        product *= rng.random()
        k += 1
    return k


def binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(1 for _ in range(n) if rng.random() < p)


def session_id(rng: random.Random) -> str:
    value = f"{rng.getrandbits(128):032x}"
    return f"{value[:8]}-{value[8:12]}-4{value[13:16]}-a{value[17:20]}-{value[20:]}"


class PersonDays:
    """One person's generator of day plans, with what carries over between days (the week's effective
    tokens for target bunching, the fixed period of a scripted loop)."""

    def __init__(self, person: SimPerson, profile: Profile, *, seed: int) -> None:
        self.person = person
        self.profile = profile
        self.rng = random.Random(f"person:{seed}:{person.email}")  # noqa: S311 - reproducible simulation
        openai_tool = person.tool in ("codex",)
        self.models = OPENAI_MODELS if openai_tool else CODING_MODELS
        self.period_s = self.rng.choice((5400, 7200, 9000))
        self.offset_s = self.rng.uniform(0, self.period_s)
        self.prompts = [self.rng.choice(REPEATED_PROMPTS) for _ in range(profile.prompt_pool or 0)]
        self.week: date | None = None
        self.week_tokens = 0.0
        self.week_goal = 0.0

    # --- calls ----------------------------------------------------------------------------------

    def _prompt(self) -> str:
        rng = self.rng
        if self.prompts:
            return rng.choice(self.prompts).format(n=rng.randint(1, 400))
        return f"{rng.choice(PROMPT_VERBS)} {rng.choice(PROMPT_OBJECTS)} ({rng.getrandbits(48):x})"

    def call(self, start: datetime, session: str, *, first: bool, turn: bool, status: int = 200,
             attempt: int = 1) -> Call:  # fmt: skip
        rng, profile = self.rng, self.profile
        model = MODELS[rng.choice(self.models)]
        context = profile.context
        if status >= 400:
            uncached = cache_read = cache_write = output = reasoning = 0
        else:
            # One simulated call stands for one turn of a coding tool, which folds several API requests
            # (tool loop iterations) into one: hence contexts of 100k+ cached tokens.
            uncached = int(lognormal(rng, 5_000, 0.6) * context)
            cache_read = 0 if first else int(lognormal(rng, 140_000, 0.5) * context)
            openai = model.counting == "openai"
            cache_write = 0 if openai else int(lognormal(rng, 30_000 if first else 5_000, 0.6) * context)
            output = int(lognormal(rng, 2_000, 0.7) * profile.output)
            reasoning = int(output * rng.uniform(0.5, 2.0)) if model.reasoning else 0
        duration = int(800 + (output + reasoning) / 0.06 + rng.uniform(0, 1500)) if status < 400 else 300
        tools = READ_TOOLS if profile.read_only else WORK_TOOLS
        return Call(
            start=start,
            duration_ms=duration,
            model=model,
            uncached=uncached,
            cache_read=cache_read,
            cache_write=cache_write,
            output=output,
            reasoning=reasoning,
            effective_tokens=model.effective_tokens(
                uncached=uncached,
                cache_read=cache_read,
                cache_write=cache_write,
                output=output,
                reasoning=reasoning,
            ),
            cost_usd=model.cost_usd(
                uncached=uncached,
                cache_read=cache_read,
                cache_write=cache_write,
                output=output,
                reasoning=reasoning,
            ),
            status_code=status,
            attempt=attempt,
            session=session,
            prompt=self._prompt() if turn else None,
            tool_name=rng.choice(tools),
        )

    def _session(self, calls: list[Call], start: datetime, count: int, *, gap_s: float) -> None:
        rng, profile = self.rng, self.profile
        session = session_id(rng)
        at = start
        for index in range(count):
            turn = index == 0 or rng.random() < 0.35
            if rng.random() < profile.error_rate:
                # A retry loop keeps failing for several attempts (exponential backoff); others retry once.
                attempts = rng.randint(3, 5) if profile.error_rate > 0.2 else 1
                for attempt in range(1, attempts + 1):
                    calls.append(self.call(at, session, first=False, turn=False, status=rng.choice(ERROR_CODES),
                                           attempt=attempt))  # fmt: skip
                    at += timedelta(seconds=2**attempt + rng.uniform(0, 1))
            call = self.call(at, session, first=index == 0, turn=turn)
            calls.append(call)
            at += timedelta(milliseconds=call.duration_ms, seconds=rng.expovariate(1 / gap_s))

    # --- days -----------------------------------------------------------------------------------

    def day(self, day: date) -> DayPlan:
        rng, profile = self.rng, self.profile
        plan = DayPlan()
        weekend = day.weekday() >= 5
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if profile.cadence == "regular":
            self._regular(plan, midnight)
            return plan
        activity = profile.weekend_activity if weekend else profile.weekday_activity
        sessions_scale = 1.0
        if profile.period_spikes:
            # Binges before the snapshot: every Friday, and the month's last three days, weekend or not.
            month_end = day.day > calendar.monthrange(day.year, day.month)[1] - 3
            if month_end or day.weekday() == 4:
                activity, sessions_scale = 1.0, 5.0
            else:
                activity *= 0.5
        if profile.bunching:
            self._new_week(day)
            if self.week_tokens >= self.week_goal:
                activity = 0.0
        if rng.random() < activity:
            low, high = profile.sessions
            sessions = max(1, round(rng.randint(low, high) * sessions_scale))
            work_start = midnight + timedelta(hours=self.person.start_hour)
            fan_start = work_start + timedelta(hours=rng.uniform(0, 7))
            for _ in range(sessions):
                if profile.cadence == "fan_out":  # parallel sessions, started together
                    start = fan_start + timedelta(seconds=rng.uniform(0, 600))
                else:
                    start = work_start + timedelta(hours=rng.uniform(0, 8.5))
                count = rng.randint(*profile.calls_per_session)
                self._session(plan.calls, start, count, gap_s=60 if profile.cadence == "fan_out" else 100)
        if profile.bunching:
            self._bunch(plan, day, work_start=midnight + timedelta(hours=self.person.start_hour))
        plan.calls.sort(key=lambda c: c.start)
        self._outcomes(plan)
        return plan

    def _regular(self, plan: DayPlan, midnight: datetime) -> None:
        """A script under a personal key: one call every `period_s` seconds, day and night, give or take
        a second, always the same few prompts."""
        session = session_id(self.rng)
        at = midnight + timedelta(seconds=self.offset_s)
        end = midnight + timedelta(days=1)
        while at < end:
            jitter = timedelta(seconds=self.rng.uniform(-1.0, 1.0))
            plan.calls.append(self.call(at + jitter, session, first=False, turn=True))
            at += timedelta(seconds=self.period_s)

    def _new_week(self, day: date) -> None:
        monday = day - timedelta(days=day.weekday())
        if self.week != monday:
            self.week = monday
            self.week_tokens = 0.0
            self.week_goal = WEEKLY_TARGET_EFFECTIVE_TOKENS * self.rng.uniform(1.01, 1.05)

    def _bunch(self, plan: DayPlan, day: date, *, work_start: datetime) -> None:
        """Stop once the week's effective tokens pass the goal; on Friday, top them up to just above the
        target."""
        kept: list[Call] = []
        for call in sorted(plan.calls, key=lambda c: c.start):
            if self.week_tokens >= self.week_goal:
                break
            kept.append(call)
            self.week_tokens += call.effective_tokens
        if day.weekday() == 4 and self.week_tokens < self.week_goal:
            session = session_id(self.rng)
            at = work_start + timedelta(hours=6)
            while self.week_tokens < self.week_goal:
                call = self.call(at, session, first=not kept, turn=self.rng.random() < 0.4)
                kept.append(call)
                self.week_tokens += call.effective_tokens
                at += timedelta(milliseconds=call.duration_ms, seconds=self.rng.uniform(20, 90))
        plan.calls = kept

    def _outcomes(self, plan: DayPlan) -> None:
        rng, profile = self.rng, self.profile
        done = sum(1 for call in plan.calls if call.ok)
        if not done:
            return
        plan.commits = poisson(rng, done * profile.commits_per_call)
        plan.prs = binomial(rng, plan.commits, profile.prs_per_commit)
        plan.merged = binomial(rng, plan.prs, profile.merge_rate)
        edits = poisson(rng, done * profile.edits_per_call)
        plan.edits_accepted = binomial(rng, edits, profile.accept_rate)
        plan.edits_rejected = edits - plan.edits_accepted
        plan.lines_added = sum(rng.randint(3, 40) for _ in range(plan.edits_accepted))
        plan.lines_removed = int(plan.lines_added * rng.uniform(0.1, 0.5))
