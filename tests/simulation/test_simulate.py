"""The simulator end to end in process, on small organizations: deterministic for a seed, every behaviour
labelled, events stored through the real ingestion paths with rollups that agree with them, and no
simulation into a deployment that already has people unless forced."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from meshclaw.config import load_settings
from meshclaw.context import AppContext
from meshclaw.db.migrate import upgrade
from meshclaw.db.models import (
    ActivityEventRow,
    Agent,
    AgentVersion,
    OutcomeEventRow,
    OutcomeRollup,
    UsageEventRow,
    UsageRollup,
    User,
)
from meshclaw.errors import ConflictError
from meshclaw.identity import store
from meshclaw.simulation.behaviours import AgentLabel, PersonLabel
from meshclaw.simulation.run import LABELS_FILE, SimulationOptions, SimulationSummary, simulate
from tests.conftest import LiveServer
from tests.postgres import BOTH_BACKENDS

OPTIONS = SimulationOptions(people=40, days=7, seed=3, last_day=date(2026, 11, 29))


def fresh_context(data_dir: Path) -> tuple[AppContext, int]:
    data_dir.mkdir(parents=True, exist_ok=True)
    context = AppContext.from_settings(load_settings(data_dir=data_dir))
    upgrade(context.db)
    with context.db.session() as session:
        org, _ = store.ensure_org(session, name="Sim", now=context.clock.now())
        return context, org.id


@pytest.fixture
def simulated(context: AppContext, org_id: int) -> Iterator[tuple[AppContext, SimulationSummary]]:
    yield context, simulate(context, org_id, OPTIONS)


def totals(context: AppContext) -> dict[str, object]:
    with context.db.session() as session:
        return {
            "users": session.scalar(select(func.count()).select_from(User)),
            "usage": session.scalar(select(func.count()).select_from(UsageEventRow)),
            "outcomes": session.scalar(select(func.count()).select_from(OutcomeEventRow)),
            "activities": session.scalar(select(func.count()).select_from(ActivityEventRow)),
            "tokens": session.scalar(
                select(func.sum(UsageEventRow.input_uncached + UsageEventRow.cache_read + UsageEventRow.output))
            ),
            "cost": session.scalar(select(func.sum(UsageEventRow.cost_microusd))),
            "by_source": sorted(tuple(row) for row in session.execute(
                select(UsageEventRow.source, func.count()).group_by(UsageEventRow.source)).all()),
        }  # fmt: skip


def test_the_same_seed_gives_the_same_organization_and_usage(tmp_path: Path) -> None:
    runs = []
    for name in ("first", "second"):
        context, org_id = fresh_context(tmp_path / name)
        try:
            summary = simulate(context, org_id, OPTIONS)
            runs.append((summary, totals(context), (tmp_path / name / LABELS_FILE).read_bytes()))
        finally:
            context.db.dispose()
    (first, first_totals, first_labels), (second, second_totals, second_labels) = runs
    assert (first.usage_events, first.outcome_events, first.activity_events) == (
        second.usage_events, second.outcome_events, second.activity_events)  # fmt: skip
    assert (first.tokens, first.cost_usd) == (second.tokens, second.cost_usd)
    assert first_totals == second_totals
    assert first_labels == second_labels
    assert first.usage_events > 1000 and first.outcome_events > 100 and first.activity_events > 100


@BOTH_BACKENDS
def test_simulated_agents_are_defined_for_their_owners(
    simulated: tuple[AppContext, SimulationSummary],
) -> None:
    """The agents page lists them and usage by agent names them: every agent id in the usage is a defined
    agent, owned by the person the labels file says, with nothing that could run it."""
    context, _ = simulated
    document = orjson.loads((context.settings.data_dir / LABELS_FILE).read_bytes())
    with context.db.session() as session:
        defined = {
            agent.id: (agent.name, owner, agent.current_version_id)
            for agent, owner in session.execute(
                select(Agent, User.email).join(User, User.id == Agent.owner_user_id)
            )
        }
        used = set(session.scalars(select(UsageEventRow.agent_id).where(UsageEventRow.agent_id.is_not(None))))
        specs = session.scalars(select(AgentVersion.spec)).all()
    assert {(a["agent_id"], name, a["owner"]) for name, a in document["agents"].items()} == {
        (agent_id, name, owner) for agent_id, (name, owner, _) in defined.items()
    }
    assert used == set(defined) and len(defined) >= 2
    assert all(version for *_, version in defined.values())
    assert all(not spec.get("model") and not spec.get("triggers") for spec in specs)


def test_every_behaviour_is_labelled(simulated: tuple[AppContext, SimulationSummary]) -> None:
    context, summary = simulated
    document = orjson.loads((context.settings.data_dir / LABELS_FILE).read_bytes())
    expected = set(typing.get_args(PersonLabel)) | set(typing.get_args(AgentLabel))
    assert set(document["labels"].values()) == expected
    assert set(summary.labels) == expected
    with context.db.session() as session:
        emails = set(session.scalars(select(User.email)))
    people = {
        subject for subject, label in document["labels"].items() if label in typing.get_args(PersonLabel)
    }
    assert people == emails and len(people) == OPTIONS.people
    agents = {
        subject for subject, label in document["labels"].items() if label in typing.get_args(AgentLabel)
    }
    assert agents == set(document["agents"])


@BOTH_BACKENDS
def test_events_go_through_the_real_paths_and_rollups_agree(
    simulated: tuple[AppContext, SimulationSummary],
) -> None:
    context, summary = simulated
    with context.db.session() as session:
        sources = set(session.scalars(select(UsageEventRow.source).distinct()))
        assert sources == {"gateway", "agent", "otlp"}
        assert set(session.scalars(select(OutcomeEventRow.source).distinct())) == {
            "gateway",
            "agent",
            "otlp",
            "import",
        }
        activity_names = set(session.scalars(select(ActivityEventRow.name).distinct()))
        assert {"claude_code.user_prompt", "claude_code.tool_result", "claude_code.tool_decision",
                "cursor.user_day"} <= activity_names  # fmt: skip
        tool_result = session.scalars(
            select(ActivityEventRow.attributes)
            .where(ActivityEventRow.name == "claude_code.tool_result")
            .limit(1)
        ).one()
        assert tool_result["app.entrypoint"] in ("cli", "sdk-py") and "tool_name" in tool_result
        retried = session.scalars(
            select(UsageEventRow.attributes).where(
                UsageEventRow.source == "otlp", UsageEventRow.status == "error"
            )
        ).all()
        assert retried and max(a["attempt"] for a in retried) >= 3
        agent = session.execute(
            select(UsageEventRow.initiator, UsageEventRow.agent_id, UsageEventRow.run_id)
            .where(UsageEventRow.source == "agent").limit(1)
        ).one()  # fmt: skip
        assert agent.initiator == "automation" and agent.agent_id and agent.run_id
        # Stamped with the person's team, as the recorder does (only the CEO has no team).
        unstamped = session.scalar(
            select(func.count()).select_from(UsageEventRow).join(User, User.id == UsageEventRow.user_id)
            .where(UsageEventRow.team_id.is_distinct_from(User.team_id))
        )  # fmt: skip
        assert unstamped == 0
        assert session.scalar(
            select(func.count()).select_from(UsageEventRow).where(UsageEventRow.cache_read > 0)
        )
        assert session.scalar(
            select(func.count()).select_from(UsageEventRow).where(UsageEventRow.reasoning > 0)
        )
        # Prompt hashes repeat: the repetition tokenmaxxers send the same few prompts over and over.
        per_prompt = (
            select(func.count().label("n")).select_from(UsageEventRow)
            .where(UsageEventRow.prompt_hash.is_not(None), UsageEventRow.source == "gateway")
            .group_by(UsageEventRow.user_id, UsageEventRow.prompt_hash).subquery()
        )  # fmt: skip
        assert session.scalar(select(func.max(per_prompt.c.n))) >= 10

        events = session.execute(
            select(func.count(), func.sum(UsageEventRow.cache_read), func.sum(UsageEventRow.output),
                   func.sum(UsageEventRow.cost_microusd))
        ).one()  # fmt: skip
        for bucket in ("hour", "day"):
            rolled = session.execute(
                select(func.sum(UsageRollup.requests), func.sum(UsageRollup.cache_read), func.sum(UsageRollup.output),
                       func.sum(UsageRollup.cost_microusd)).where(UsageRollup.bucket == bucket)
            ).one()  # fmt: skip
            assert tuple(rolled) == tuple(events)
            outcomes = session.scalar(
                select(func.sum(OutcomeRollup.count)).where(OutcomeRollup.bucket == bucket)
            )
            assert outcomes == session.scalar(select(func.count()).select_from(OutcomeEventRow))
        assert events[0] == summary.usage_events
        assert int(events[3]) == round(summary.cost_usd * 1_000_000)


def test_refuses_a_data_directory_with_people_unless_forced(context: AppContext, org_id: int) -> None:
    with context.db.session() as session:
        store.create_user(session, org_id=org_id, email="real.person@example.org", now=context.clock.now())
    with pytest.raises(ConflictError, match="already has 1 people"):
        simulate(context, org_id, OPTIONS)
    with context.db.session() as session:
        assert session.scalar(select(func.count()).select_from(UsageEventRow)) == 0
    forced = simulate(context, org_id, replace(OPTIONS, force=True))
    assert forced.usage_events > 0
    again = simulate(context, org_id, replace(OPTIONS, force=True))
    assert (again.usage_events, again.outcome_events, again.activity_events) == (0, 0, 0)


def test_a_running_server_sees_the_simulation_at_once(live_server: LiveServer) -> None:
    context = live_server.context
    with context.db.session() as session:
        org_id = store.ensure_org(session, name="Test Org", now=context.clock.now())[0].id
    summary = simulate(context, org_id, OPTIONS)
    with context.db.session() as session:
        admin = session.scalars(select(User).where(User.role == "admin")).first()
        assert admin is not None
        _, key = store.create_key(
            session, org_id=org_id, owner_user_id=admin.id, name="t", now=context.clock.now()
        )
    answer = httpx.get(
        f"{live_server.url}/api/v1/usage/summary",
        params={"since": OPTIONS.first_day.isoformat(), "until": "2026-11-30", "group_by": "source"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["totals"]["requests"] == summary.usage_events
