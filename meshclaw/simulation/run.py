"""`simulate()`: an organization and its days of AI use, through identity's org import and the metering
recorder, plus the behaviour labels file.

Days are simulated in order, every person and agent each day, and the simulation waits for the recorder's
writer after each day (`sink.py`), so memory stays bounded by one day's events.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
from sqlalchemy import func, select

from meshclaw.agents.spec import AgentSpec
from meshclaw.agents.store import save_spec
from meshclaw.context import AppContext
from meshclaw.db.models import User
from meshclaw.errors import ConflictError, InvalidInputError
from meshclaw.identity.org_import import import_rows
from meshclaw.metering.import_rows import ImportBatch
from meshclaw.metering.prices import PriceBook, add_price
from meshclaw.simulation import org as org_module
from meshclaw.simulation.agents import AgentDays
from meshclaw.simulation.behaviours import PROFILES, WEEKLY_TARGET_EFFECTIVE_TOKENS
from meshclaw.simulation.catalogue import MODELS
from meshclaw.simulation.gateway import chat_outcomes, person_usage
from meshclaw.simulation.org import SimOrg, build_org
from meshclaw.simulation.otlp import ClaudeCodeExporter, OtlpMapping
from meshclaw.simulation.plan import PersonDays
from meshclaw.simulation.reports import cursor_report, cursor_row, repository_outcomes, user_index
from meshclaw.simulation.sink import EventSink

LABELS_FILE = "simulation-labels.json"
MAX_PEOPLE = 50_000
MAX_DAYS = 730

Progress = Callable[[int], None]
"""Called with the number of days just simulated."""


@dataclass(frozen=True, kw_only=True)
class SimulationOptions:
    people: int
    days: int
    seed: int
    last_day: date
    """The last simulated day (UTC); the simulation covers `days` days up to and including it."""
    domain: str = "example.com"
    force: bool = False

    @property
    def first_day(self) -> date:
        return self.last_day - timedelta(days=self.days - 1)


@dataclass(frozen=True, kw_only=True)
class SimulationSummary:
    people: int
    teams: int
    agents: int
    first_day: date
    last_day: date
    labels: Counter[str]
    usage_events: int
    """Events stored (a re-run of the same simulation stores none: ids are deterministic)."""
    outcome_events: int
    activity_events: int
    otlp_exports: int
    tokens: int
    cost_usd: float
    seconds: float
    labels_path: Path


def check_options(options: SimulationOptions) -> None:
    if not 1 <= options.people <= MAX_PEOPLE:
        raise InvalidInputError(f"--people must be between 1 and {MAX_PEOPLE}", field="people")
    if not 1 <= options.days <= MAX_DAYS:
        raise InvalidInputError(f"--days must be between 1 and {MAX_DAYS}", field="days")
    if options.people < 20:
        raise InvalidInputError("--people must be at least 20 so every behaviour has someone", field="people")


def refuse_real_people(context: AppContext, org_id: int, *, force: bool) -> None:
    """A simulation adds hundreds of made-up people and months of usage; into a deployment that already
    has people, that only happens on purpose."""
    with context.db.session() as session:
        existing = session.scalar(select(func.count()).select_from(User).where(User.org_id == org_id)) or 0
    if existing and not force:
        raise ConflictError(
            f"this data directory ({context.settings.data_dir}) already has {existing} people; a simulation "
            "would mix made-up people and usage with theirs. Use an empty data directory "
            "(--data-dir or MESHCLAW_DATA_DIR), or pass --force to add it anyway"
        )


def _import_people(context: AppContext, org_id: int, sim: SimOrg, *, force: bool) -> None:
    """Import the people as `meshclaw org import` does."""
    with context.db.session() as session:
        import_rows(session, org_module.import_rows(sim), org_id=org_id, now=context.clock.now(),
                    on_existing="update" if force else "error")  # fmt: skip
        ids = {
            email: user_id
            for email, user_id in session.execute(select(User.email, User.id).where(User.org_id == org_id))
        }
    for person in sim.people:
        person.user_id = ids[person.email]


def _define_agents(context: AppContext, org_id: int, sim: SimOrg) -> None:
    """Define the simulated agents, each for its owner, so pages and flags name them ("inbox-triage-3
    (ada@example.com)") and the agents page lists them. No model and no schedule: nothing runs them. A
    second simulation finds them unchanged and keeps their ids."""
    with context.db.session() as session:
        for agent in sim.agents:
            spec = AgentSpec(name=agent.name, purpose=agent.purpose, memory=False)
            applied = save_spec(session, org_id=org_id, owner_user_id=agent.owner.user_id, spec=spec,
                                created_by_user_id=None, now=context.clock.now())  # fmt: skip
            agent.agent_id = applied.agent.id


def _ensure_prices(context: AppContext, since: date) -> None:
    """List prices for the simulated models, from before the first simulated day, unless the deployment
    already prices them (its own prices are kept)."""
    at = datetime(since.year, since.month, since.day, tzinfo=UTC) - timedelta(days=1)
    with context.db.session() as session:
        book = PriceBook.load(session)
        for model in MODELS.values():
            if book.price_at(model.name, at) is None:
                add_price(session, model=model.name, input_uncached=model.input, output=model.output,
                          cache_read=model.cache_read, cache_write=model.cache_write, effective_from=at,
                          created_by_user_id=None, now=context.clock.now())  # fmt: skip


def simulate(
    context: AppContext, org_id: int, options: SimulationOptions, *, progress: Progress | None = None
) -> SimulationSummary:
    check_options(options)
    refuse_real_people(context, org_id, force=options.force)
    started = time.perf_counter()
    sim = build_org(options.people, seed=options.seed, domain=options.domain)
    _import_people(context, org_id, sim, force=options.force)
    _define_agents(context, org_id, sim)
    _ensure_prices(context, options.first_day)
    sink = EventSink(context.db, journal_dir=context.settings.metering_journal_dir)
    sink.start()
    try:
        otlp_exports = _simulate_days(sim, options, sink, progress)
    finally:
        sink.close()
    labels_path = write_labels(context.settings.data_dir, sim, options)
    usage, outcomes, activities = sink.written
    return SimulationSummary(
        people=len(sim.people),
        teams=len(sim.teams),
        agents=len(sim.agents),
        first_day=options.first_day,
        last_day=options.last_day,
        labels=Counter([p.label for p in sim.people] + [a.label for a in sim.agents]),
        usage_events=usage,
        outcome_events=outcomes,
        activity_events=activities,
        otlp_exports=otlp_exports,
        tokens=sink.tokens,
        cost_usd=sink.cost_microusd / 1_000_000,
        seconds=time.perf_counter() - started,
        labels_path=labels_path,
    )


def _simulate_days(
    sim: SimOrg, options: SimulationOptions, sink: EventSink, progress: Progress | None
) -> int:
    """Every day in order; returns how many OTLP exports were mapped."""
    people = [
        (person, PersonDays(person, PROFILES[person.label], seed=options.seed)) for person in sim.people
    ]
    active = [(person, days) for person, days in people if person.label != "non_user"]
    exporters = {p.email: ClaudeCodeExporter(p, random.Random(f"otlp:{options.seed}:{p.email}"))  # noqa: S311
                 for p, _ in active if p.tool == "claude-code"}  # fmt: skip
    mapping = OtlpMapping({p.email: p.user_id for p in sim.people})
    users = user_index({p.email: p.user_id for p in sim.people})
    agents = [AgentDays(agent, seed=options.seed) for agent in sim.agents]
    exports = 0
    for offset in range(options.days):
        day = options.first_day + timedelta(days=offset)
        day_end = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
        cursor_rows = []
        repository = ImportBatch(tool="github")
        for person, days in active:
            plan = days.day(day)
            if person.tool == "claude-code":
                exporter = exporters[person.email]
                if plan.calls:
                    mapped = mapping.logs(exporter.logs(plan))
                    sink.add_usage(mapped.usage)
                    sink.add_activities(mapped.activities)
                    exports += 1
                metrics = exporter.metrics(plan, day, day_end)
                if metrics is not None:
                    sink.add_outcomes(mapping.metrics(metrics).outcomes)
                    exports += 1
            else:
                sink.add_usage(person_usage(person, plan, days.rng))
            if person.tool == "chat":
                sink.add_outcomes(chat_outcomes(person, plan, days.rng))
            elif person.tool != "sdk":
                repository_outcomes(repository, person, plan, day, with_commits=person.tool != "claude-code")
            if person.tool == "cursor" and plan.calls:
                cursor_rows.append(cursor_row(person, plan, day, days.rng))
        for batch in ([cursor_report(cursor_rows, users)] if cursor_rows else []) + [repository]:
            sink.add_usage(batch.usage)
            sink.add_outcomes(batch.outcomes)
            sink.add_activities(batch.activities)
        for agent in agents:
            usage, outcomes = agent.day(day)
            sink.add_usage(usage)
            sink.add_outcomes(outcomes)
        sink.commit()
        if progress is not None:
            progress(1)
    return exports


def write_labels(data_dir: Path, sim: SimOrg, options: SimulationOptions) -> Path:
    """The ground truth: who behaves how (subject email or agent name -> label), for measuring a detector."""
    labels: dict[str, str] = {p.email: p.label for p in sim.people}
    labels.update({a.name: a.label for a in sim.agents})
    document = {
        "seed": options.seed,
        "people": options.people,
        "days": options.days,
        "first_day": options.first_day.isoformat(),
        "last_day": options.last_day.isoformat(),
        "weekly_target_effective_tokens": WEEKLY_TARGET_EFFECTIVE_TOKENS,
        "labels": labels,
        "tools": {p.email: p.tool for p in sim.people},
        "agents": {
            a.name: {
                "agent_id": a.agent_id,
                "owner": a.owner.email,
                "label": a.label,
                "outcome_type": a.outcome_type,
            }
            for a in sim.agents
        },
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LABELS_FILE
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return path
