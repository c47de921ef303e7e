"""Triggers and guards: cron (short forms, time zones), intervals and one-shot times fire once per slot;
events and webhooks reach the agents whose filters match; the guards skip runs with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.agents.spec import CronTrigger, IntervalTrigger, OnceTrigger
from meshclaw.context import AppContext
from meshclaw.db.models import Run
from meshclaw.runs.engine import RunEngine
from meshclaw.runs.triggers import due_slot
from tests.conftest import People
from tests.runs.records import save_agent, wait_final

GRACE = timedelta(minutes=10)


def test_cron_slots_follow_the_triggers_time_zone() -> None:
    trigger = CronTrigger.model_validate({"cron": "weekdays 07:00 Europe/Berlin"})
    # Monday 2026-11-30 07:00 in Berlin is 06:00 UTC.
    assert due_slot(trigger, datetime(2026, 11, 30, 6, 0, 30, tzinfo=UTC), grace=GRACE) == datetime(
        2026, 11, 30, 6, 0, tzinfo=UTC
    )
    assert due_slot(trigger, datetime(2026, 11, 30, 5, 59, tzinfo=UTC), grace=GRACE) is None
    # Too late to fire after a long outage, and never on a Saturday.
    assert due_slot(trigger, datetime(2026, 11, 30, 9, 0, tzinfo=UTC), grace=GRACE) is None
    assert due_slot(trigger, datetime(2026, 12, 5, 6, 1, tzinfo=UTC), grace=GRACE) is None


def test_interval_and_once_slots() -> None:
    every = IntervalTrigger(every_seconds=300)
    assert due_slot(every, datetime(2026, 12, 1, 10, 7, 12, tzinfo=UTC), grace=GRACE) == datetime(
        2026, 12, 1, 10, 5, tzinfo=UTC
    )
    once = OnceTrigger(at=datetime(2026, 12, 24, 9, 0, tzinfo=UTC))
    assert due_slot(once, datetime(2026, 12, 24, 8, 59, tzinfo=UTC), grace=GRACE) is None
    assert due_slot(once, datetime(2026, 12, 24, 9, 3, tzinfo=UTC), grace=GRACE) == once.at


def test_a_tick_fires_each_due_slot_once_and_an_idle_agent_never(
    engine: RunEngine, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    cron = save_agent(context, org_id, owner, "morning", triggers=[{"kind": "cron", "cron": "daily 07:00"}],
                      settings={"tool_calls": 0}, allow_overlap=True)  # fmt: skip
    interval = save_agent(context, org_id, owner, "poller", triggers=[{"kind": "interval", "every_seconds": 60}],
                          settings={"tool_calls": 0}, allow_overlap=True)  # fmt: skip
    save_agent(context, org_id, owner, "idle", settings={"tool_calls": 0})
    seven = datetime(2026, 12, 1, 7, 0, 20, tzinfo=UTC)

    first = engine.tick(seven)
    assert engine.tick(seven + timedelta(seconds=5)) == []  # same slots: nothing new
    later = engine.tick(seven + timedelta(seconds=60))  # the interval's next slot, not the cron's
    with context.db.session() as session:
        runs = session.execute(select(Run.agent_id, Run.trigger_kind).order_by(Run.created_at)).all()
    assert sorted(first) == sorted(r for r in first) and len(first) == 2
    assert len(later) == 1
    assert sorted(runs) == sorted([(cron, "cron"), (interval, "interval"), (interval, "interval")])
    for run_id in first + later:
        assert wait_final(context, run_id) == "succeeded"


def test_guards_skip_runs_with_the_reason(
    engine: RunEngine, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    capped = save_agent(context, org_id, owner, "capped", daily={"max_runs": 1}, settings={"tool_calls": 0})
    first = engine.start_run(capped, trigger_kind="manual")
    assert first is not None and wait_final(context, first) == "succeeded"
    second = engine.start_run(capped, trigger_kind="manual")
    assert second is not None and wait_final(context, second) == "skipped"

    busy = save_agent(context, org_id, owner, "busy", settings={"tool_calls": 1, "approval": True})
    waiting = engine.start_run(busy, trigger_kind="manual")
    overlapping = engine.start_run(busy, trigger_kind="manual")
    meeting = save_agent(context, org_id, owner, "meeting", settings={"tool_calls": 0},
                         triggers=[{"kind": "interval", "every_seconds": 60, "condition": "owner_in_meeting"}])  # fmt: skip
    (conditional,) = engine.tick(datetime(2026, 12, 1, 7, 0, 1, tzinfo=UTC))
    from meshclaw.agents import store as agents_store

    with context.db.session() as session:
        agents_store.set_enabled(session, capped, enabled=False, now=context.clock.now())
    disabled = engine.start_run(capped, trigger_kind="manual")
    with context.db.session() as session:
        errors = {run.id: (run.status, run.error) for run in session.scalars(select(Run))}
    assert errors[second] == (
        "skipped",
        "the agent reached its limit of 1 runs today (UTC); raise daily.max_runs",
    )
    assert errors[overlapping or ""][0] == "skipped" and "does not allow overlap" in str(
        errors[overlapping or ""][1]
    )
    assert waiting is not None and errors[waiting][0] in ("queued", "running", "waiting_approval")
    assert errors[conditional][0] == "skipped" and "owner_in_meeting" in str(errors[conditional][1])
    assert errors[disabled or ""] == ("skipped", "the agent is disabled")
    assert meeting


def test_an_event_starts_only_agents_whose_filters_match(
    engine: RunEngine, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    web = save_agent(context, org_id, owner, "web-watch", settings={"tool_calls": 0},
                     triggers=[{"kind": "event", "event": "deployment.started", "match": {"service": "web"}}])  # fmt: skip
    save_agent(context, org_id, owner, "api-watch", settings={"tool_calls": 0},
               triggers=[{"kind": "event", "event": "deployment.started", "match": {"service": "api"}}])  # fmt: skip
    (run_id,) = engine.publish("deployment.started", {"service": "web", "version": "1.2.3"})
    assert engine.publish("deployment.finished", {"service": "web"}) == []
    with context.db.session() as session:
        run = session.get(Run, run_id)
        assert run is not None and run.agent_id == web and run.trigger_kind == "event"
        assert run.input["text"] == "Event deployment.started: service=web, version=1.2.3"
    assert wait_final(context, run_id) == "succeeded"


def test_a_fallback_trigger_yields_to_the_owners_agent_that_claims_the_event(
    engine: RunEngine, context: AppContext, org_id: int, people: People
) -> None:
    ana, bo = people.add(), people.add()
    dm = {"kind": "event", "event": "chat.dm_received"}
    each = {"settings": {"tool_calls": 0}, "allow_overlap": True}
    deployer = save_agent(context, org_id, ana, "deployer", **each,
                          triggers=[{**dm, "text_matches": r"\s*(please\s+)?deploy\b"}])  # fmt: skip
    assistant = save_agent(context, org_id, ana, "assistant", **each,
                           triggers=[{**dm, "fallback": True}])  # fmt: skip
    other = save_agent(context, org_id, bo, "bos-assistant", **each,
                       triggers=[{**dm, "fallback": True}])  # fmt: skip

    def started(text: str) -> set[int]:
        run_ids = engine.publish("chat.dm_received", {"text": text})
        with context.db.session() as session:
            return {session.get_one(Run, run_id).agent_id for run_id in run_ids}

    # Ana's deploy agent claims a deploy request (any case) from her assistant; Bo's assistant is not hers
    # to silence. A message nobody claims reaches both fallbacks; "redeploy" is not "deploy".
    assert started("Please DEPLOY web 1.2 to staging") == {deployer, other}
    assert started("what is on my calendar?") == {assistant, other}
    assert started("redeploy web") == {assistant, other}
    with context.db.session() as session:
        run_ids = list(session.scalars(select(Run.id).where(Run.trigger_kind == "event")))
    assert len(run_ids) == 6
    for run_id in run_ids:
        assert wait_final(context, run_id) == "succeeded"


def test_a_webhook_needs_its_agents_token(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner, other = people.add(), people.add()
    agent_id = save_agent(context, org_id, owner, "hooked", settings={"tool_calls": 0},
                          triggers=[{"kind": "event", "event": "webhook.received", "match": {"action": "opened"}}])  # fmt: skip
    assert app_client.post(f"/api/v1/hooks/{agent_id}", headers=other.auth).status_code == 403
    created = app_client.post(f"/api/v1/hooks/{agent_id}", headers=owner.auth)
    assert created.status_code == 201
    path = created.json()["url"].removeprefix(str(context.settings.resolved_public_url))
    token = path.rsplit("/", 1)[1]

    assert app_client.post(f"/api/v1/hooks/{agent_id}/{token}x", json={"action": "opened"}).status_code == 404
    assert (
        app_client.post(f"/api/v1/hooks/{agent_id + 1}/{token}", json={"action": "opened"}).status_code == 404
    )
    # Nested past Python's recursion limit: a message, not a 500 (it was one, to anyone with the URL).
    deep = app_client.post(path, content="[" * 50_000, headers={"content-type": "application/json"})
    assert deep.status_code == 422 and "nested too deeply" in deep.json()["error"]["message"]
    ignored = app_client.post(path, json={"action": "closed"})
    assert ignored.status_code == 202 and ignored.json() == {"runs": []}
    fired = app_client.post(path, json={"action": "opened", "number": 7})
    (run_id,) = fired.json()["runs"]
    assert wait_final(context, run_id) == "succeeded"
