"""`RunEngine`: DBOS in the server process, and every way a run starts, stops or gets a decision.

Lifecycle. DBOS is a process-wide singleton that can be destroyed and created again (verified with
3.4.0: launch, run, destroy, three times in one process, 0.05-0.3 s each), so the engine starts with the
app's lifespan and closes with it, and tests build and close apps as often as they like. Only one engine
can be live per process at a time: an app started while another app's engine is live (two apps at once
in one test process) runs without one and answers run requests with 503, rather than sharing DBOS with
the other app's database. The same app started twice (two TestClients on one app) shares its engine.

Configuration: the system database is a SQLite file beside ours, or our PostgreSQL database (DBOS keeps
to its `dbos` schema); `application_version` is pinned so a new release recovers the runs an older one
left pending; the executor id comes from the settings and must stay the same across restarts; no DBOS
console or Conductor.

Queues: one DBOS queue partitioned by owner. `partition_concurrency` bounds one person's running runs,
`global_concurrency` the organization's; per agent, the guards (no overlap, or at most
`runs_agent_concurrency` when overlap is allowed) bound it before a run is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from dbos import DBOS, DBOSConfig, Queue, SetEnqueueOptions, SetWorkflowID
from pydantic import BaseModel
from sqlalchemy import select

from meshclaw.agents.runtime.contract import Conversation
from meshclaw.agents.spec import AgentSpec, EventTrigger
from meshclaw.context import AppContext
from meshclaw.db.models import Run
from meshclaw.db.models.identity import User
from meshclaw.errors import MeshclawError, PermissionDeniedError
from meshclaw.identity.principal import Principal
from meshclaw.identity.store import principal_for
from meshclaw.runs import approvals, checkpoint_retention, guards, store
from meshclaw.runs.admission import AgentForRun, admit, triggered_agents
from meshclaw.runs.connector_hub import ConnectorHub
from meshclaw.runs.dreaming import run_id_for_night, with_dreams
from meshclaw.runs.execution import Execution, load_execution
from meshclaw.runs.kill_switches import SwitchBoard
from meshclaw.runs.triggers import TimeTrigger, due_slot, route_event, run_id_for_slot
from meshclaw.runs.workflow import APPROVAL_TOPIC, Binding, audit_log, bind, run_workflow

log = logging.getLogger("meshclaw.runs")

KILL_SWITCH_TTL_S = 1.0
"""How stale this process's copy of the engaged kill switches may get: a switch engaged by another
process (the CLI, another server) stops the runs here within this long, before their next call."""
APPLICATION_VERSION = "meshclaw-runs-1"
"""Bump only with a change that makes runs started by the previous release unable to resume."""
QUEUE = "meshclaw-runs"
PRUNE_DELAY_S = 60.0
"""The first pruning of old step checkpoints comes this long after the start, off the start-up path."""
PRUNE_EVERY_S = 3600.0


def sqlite_system_engine(url: str) -> sa.Engine:
    """DBOS's SQLite engine with WAL and synchronous=NORMAL added: DBOS's own uses the rollback journal
    with a sync per commit, 46 ms per checkpointed step on this project's busy 2-core machine against 15
    ms with these. A process crash (kill -9) loses nothing in WAL mode; only a power cut may drop the last
    commits, as for our own database. The rest copies what DBOS 3.4 sets up (IMMEDIATE transactions, busy
    timeout, foreign keys)."""
    engine = sa.create_engine(url, pool_size=20, max_overflow=20, connect_args={"check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = "IMMEDIATE"
        dbapi_connection.execute("PRAGMA busy_timeout=30000")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    return engine


class RunsUnavailableError(MeshclawError):
    status = 503
    code = "runs_unavailable"


class RunEngine:
    def __init__(
        self,
        context: AppContext,
        *,
        execution: Execution | None = None,
        conditions: guards.Conditions | None = None,
    ) -> None:
        self.context = context
        self.conditions = conditions or guards.Conditions()
        self._execution = execution
        self._binding: Binding | None = None
        self._queue: Queue | None = None
        self._starts = 0
        self._lock = threading.Lock()
        self._ticker: asyncio.Task[None] | None = None
        self._system_engine: sa.Engine | None = None
        self._specs: dict[int, AgentSpec] = {}
        """Parsed specs of triggered agents' versions, by version id (versions never change)."""

    # --- lifecycle --------------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        return self._binding is not None

    async def start(self) -> None:
        self._starts += 1
        if self._starts > 1:
            return
        await asyncio.to_thread(self._launch)
        if self.live:
            self._ticker = asyncio.create_task(self._tick_forever(), name="meshclaw-runs-ticker")
            if self._binding is not None and self._binding.hub is not None:
                await self._binding.hub.start()

    async def close(self) -> None:
        self._starts -= 1
        if self._starts > 0:
            return
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._binding is not None and self._binding.hub is not None:
            await self._binding.hub.close()
        if self.live:
            await asyncio.to_thread(self._destroy)

    def _launch(self) -> None:
        from meshclaw.runs import workflow

        if workflow._bound is not None:
            log.warning("another app's runs engine is live in this process; this app runs no agents")
            return
        settings = self.context.settings
        # Dream runs (trigger kind `dream`) consolidate memory; every other run executes as configured.
        execution = with_dreams(self.context, self._execution or load_execution(self.context))
        url = settings.resolved_runs_database_url
        config: DBOSConfig = {
            "name": "meshclaw",
            "system_database_url": url,
            "application_version": APPLICATION_VERSION,
            "executor_id": settings.runs_executor_id,
            "log_level": "WARNING",
            # On SQLite this poll is how fast an approval decision reaches its waiting run.
            "notification_listener_polling_interval_sec": 0.1,
            "scheduler_polling_interval_sec": 5.0,
        }
        if url.startswith("sqlite"):
            self._system_engine = sqlite_system_engine(url)
            config["system_database_engine"] = self._system_engine
        hub = ConnectorHub(context=self.context, publish=self._publish_untrusted, decide=self._decide_as)
        for name in _answerable_conditions():
            checker = hub.condition_checker(name)
            if checker is not None and name not in self.conditions.checkers:
                self.conditions.register(name, checker)
        self._binding = Binding(
            context=self.context,
            execution=execution,
            switches=SwitchBoard(self.context.db, ttl_s=KILL_SWITCH_TTL_S),
            hub=hub,
        )
        bind(self._binding)
        try:
            DBOS(config=config)
            DBOS.launch()  # recovers this executor's pending runs
            self._queue = DBOS.register_queue(
                QUEUE,
                global_concurrency=settings.runs_org_concurrency,
                partition_concurrency=settings.runs_user_concurrency,
                # How fast a queued run starts, traded against idle CPU (see the setting).
                polling_interval_sec=settings.runs_queue_poll_seconds,
                on_conflict="always_update",
            )
            self._requeue_orphans()
        except BaseException:
            self._destroy()
            raise

    def _destroy(self) -> None:
        DBOS.destroy(workflow_completion_timeout_sec=0)
        if self._system_engine is not None:
            self._system_engine.dispose()
            self._system_engine = None
        bind(None)
        self._binding = None
        self._queue = None

    def _requeue_orphans(self) -> None:
        """Enqueue runs our table has as active: a crash between recording a run and queueing it left it
        without a workflow. Enqueueing an id DBOS already has changes nothing, so this is safe to repeat."""
        with self.context.db.session() as session:
            rows = session.execute(
                select(Run.id, Run.owner_user_id).where(Run.status.in_(store.ACTIVE))
            ).all()
        for run_id, owner in rows:
            self._enqueue(run_id, owner)

    def _enqueue(self, run_id: str, owner_user_id: int) -> None:
        assert self._queue is not None
        with SetWorkflowID(run_id), SetEnqueueOptions(queue_partition_key=str(owner_user_id)):
            self._queue.enqueue(run_workflow, run_id)

    def _require_live(self) -> None:
        if not self.live:
            raise RunsUnavailableError(
                "runs are not executing in this process (runs_engine is off, or another app holds the engine)"
            )

    # --- starting runs ----------------------------------------------------------------------------

    def start_run(
        self,
        agent_id: int,
        *,
        trigger_kind: store.TriggerKind,
        trigger_detail: Mapping[str, Any] | None = None,
        input_text: str = "",
        conversation: Conversation | None = None,
        mode: Literal["attended", "unattended"] = "unattended",
        started_by_user_id: int | None = None,
        run_id: str | None = None,
        condition: str | None = None,
        now: datetime | None = None,
    ) -> str | None:
        """Record a run and queue it, or record it `skipped` with the guard's reason. Returns the run id,
        or None when a run with `run_id` exists already (the slot fired before). `conversation`: a chat
        message's turns in parts, which `input_text` carries as a transcript (`runs/chat.py`). Blocking:
        call it from a thread in async code."""
        self._require_live()
        with self._lock, self.context.db.session() as session:
            admitted = admit(
                session,
                agent_id,
                trigger_kind=trigger_kind,
                trigger_detail=trigger_detail,
                input_text=input_text,
                conversation=conversation,
                mode=mode,
                started_by_user_id=started_by_user_id,
                run_id=run_id,
                condition=condition,
                conditions=self.conditions,
                agent_concurrency=self.context.settings.runs_agent_concurrency,
                now=now or self.context.clock.now(),
            )
        if admitted is None:
            return None
        if admitted.queued:
            self._enqueue(admitted.run_id, admitted.owner_user_id)
        return admitted.run_id

    def tick(self, now: datetime | None = None) -> list[str]:
        """Fire every time trigger whose slot is due; returns the ids of the runs recorded."""
        self._require_live()
        now = now or self.context.clock.now()
        grace = timedelta(seconds=max(3 * self.context.settings.runs_tick_seconds, 600))
        agents = self._unswitched_triggered_agents()
        started: list[str] = []
        for agent in agents:
            for trigger in agent.spec.triggers:
                if isinstance(trigger, EventTrigger):
                    continue
                started += self._fire_slot(agent, trigger, now, grace)
            if agent.spec.dreaming is not None and agent.spec.memory:
                started += self._fire_dream(agent, now, grace)
        return started

    def _fire_dream(self, agent: AgentForRun, now: datetime, grace: timedelta) -> list[str]:
        dreaming = agent.spec.dreaming
        assert dreaming is not None
        slot = due_slot(dreaming.cron(), now, grace=grace)
        if slot is None:
            return []
        run_id = self.start_run(
            agent.id,
            trigger_kind="dream",
            trigger_detail={"dreaming": dreaming.model_dump(mode="json"), "slot": slot.isoformat()},
            run_id=run_id_for_night(agent.id, dreaming, slot),
            now=now,
        )
        return [run_id] if run_id else []

    def dream_now(self, agent_id: int, *, started_by_user_id: int, by: str) -> str:
        """Start a dream of the agent now (a person asked); the run id. Blocking, like `start_run`."""
        run_id = self.start_run(
            agent_id,
            trigger_kind="dream",
            trigger_detail={"by": by},
            mode="attended",
            started_by_user_id=started_by_user_id,
        )
        assert run_id is not None  # a fresh id never collides
        return run_id

    def _unswitched_triggered_agents(self) -> list[AgentForRun]:
        """Agents with triggers that no kill switch covers: a switched-off agent's triggers do not fire (an
        interval trigger would otherwise record a skipped run every few minutes until it is released)."""
        assert self._binding is not None and self._binding.switches is not None
        switches = self._binding.switches
        switches.refresh()
        with self.context.db.session() as session:
            agents = triggered_agents(session, self._specs)
        return [a for a in agents if not switches.stops(agent_id=a.id, owner_user_id=a.owner_user_id)]

    def _fire_slot(
        self, agent: AgentForRun, trigger: TimeTrigger, now: datetime, grace: timedelta
    ) -> list[str]:
        slot = due_slot(trigger, now, grace=grace)
        if slot is None:
            return []
        run_id = self.start_run(
            agent.id,
            trigger_kind=trigger.kind,
            trigger_detail={"trigger": trigger.model_dump(mode="json"), "slot": slot.isoformat()},
            run_id=run_id_for_slot(agent.id, trigger, slot),
            condition=getattr(trigger, "condition", None),
            now=now,
        )
        return [run_id] if run_id else []

    def prune_checkpoints(self, now: datetime | None = None) -> int:
        """Delete the step checkpoints of runs that ended more than the retention period ago and whose
        workflow DBOS no longer holds open (`checkpoint_retention`); returns how many were deleted."""
        self._require_live()
        now = now or self.context.clock.now()
        hours = self.context.settings.runs_checkpoint_retention_hours
        still_open = DBOS.list_workflows(
            status=list(checkpoint_retention.OPEN_WORKFLOW_STATUSES), load_input=False, load_output=False
        )
        removed = checkpoint_retention.prune(
            self.context.db,
            ended_before=now - timedelta(hours=hours),
            keep={workflow.workflow_id for workflow in still_open},
        )
        if removed:
            log.info("deleted %d step checkpoints of runs that ended over %g h ago", removed, hours)
        return removed

    async def _tick_forever(self) -> None:
        interval = self.context.settings.runs_tick_seconds
        next_prune = time.monotonic() + PRUNE_DELAY_S
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.tick)
            except Exception:  # one bad agent or a locked database must not stop every schedule
                log.exception("the trigger tick failed; trying again in %s s", interval)
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + PRUNE_EVERY_S
                try:
                    await asyncio.to_thread(self.prune_checkpoints)
                except Exception:  # pruning is housekeeping: the next hour tries again
                    log.exception("deleting old step checkpoints failed; trying again in an hour")

    def publish(self, event_type: str, fields: Mapping[str, str], *, untrusted: bool = True) -> list[str]:
        """The event bus: start a run of every agent with a matching event trigger, except fallback triggers
        another of the owner's agents claimed (`route_event`). An event that names an `agent_id` (an agent's
        webhook) reaches that agent only. Returns the run ids recorded.

        `untrusted`: outsiders may have written the fields (an email's sender, a webhook's body), which go
        into the run's input, so the run starts tainted. Only an event the platform vouches for (a
        deployment it watched start) says False."""
        self._require_live()
        target = fields.get("agent_id")
        agents = [
            agent
            for agent in self._unswitched_triggered_agents()
            if target is None or target == str(agent.id)
        ]
        started: list[str] = []
        for agent, trigger in route_event(agents, event_type, fields):
            run_id = self.start_run(
                agent.id,
                trigger_kind="event",
                trigger_detail={"event": event_type, "fields": dict(fields), "untrusted": untrusted},
                input_text=f"Event {event_type}: "
                + ", ".join(f"{key}={value}" for key, value in sorted(fields.items())),
                condition=trigger.condition,
            )
            if run_id:
                started.append(run_id)
        return started

    def _publish_untrusted(self, event_type: str, fields: dict[str, str], untrusted: bool) -> list[str]:
        return self.publish(event_type, fields, untrusted=untrusted)

    @property
    def hub(self) -> ConnectorHub | None:
        """The connectors' side of this engine (None when no runs execute in this process)."""
        return self._binding.hub if self._binding is not None else None

    # --- stopping and deciding --------------------------------------------------------------------

    async def _decide_as(self, owner_user_id: int, approval_id: str, approve: bool, note: str) -> None:
        """Decide an approval as its owner would in the web inbox (an answer in their chat)."""

        def principal() -> Principal:
            with self.context.db.session() as session:
                user = session.get(User, owner_user_id)
                if user is None or not user.active:
                    raise PermissionDeniedError("the account's owner cannot decide approvals")
                return principal_for(session, user)

        await self.decide(
            await asyncio.to_thread(principal), approval_id, approvals.Choice(approve=approve, note=note)
        )

    async def cancel(self, run_id: str) -> bool:
        """Cancel an active run; False if it had ended. The run stops at its next step."""
        self._require_live()
        binding = self._binding
        assert binding is not None

        def mark() -> bool:
            with self.context.db.session() as session:
                approvals.close_for_run(session, run_id)
                return store.finish_run(
                    session,
                    run_id,
                    "cancelled",
                    output=None,
                    error="cancelled by a person",
                    now=self.context.clock.now(),
                )

        ended = await asyncio.to_thread(mark)
        if ended:
            binding.stop_requested.add(run_id)
            await DBOS.cancel_workflow_async(run_id)
        return ended

    def _args_model(self, tool: str) -> type[BaseModel] | None:
        binding = self._binding
        spec = binding.execution.tools.get(tool) if binding is not None else None
        return spec.args if spec is not None else None

    async def kill(self, run_ids: Sequence[str]) -> None:
        """After a kill switch was engaged in this process: its runs stop now rather than at the next read
        of the switches, and those waiting for an approval or still queued stop waiting."""
        binding = self._binding
        if binding is None:
            return  # no runs execute here; other processes see the switch within KILL_SWITCH_TTL_S
        if binding.switches is not None:
            await asyncio.to_thread(binding.switches.refresh)
        for run_id in run_ids:
            binding.stop_requested.add(run_id)
            await DBOS.cancel_workflow_async(run_id)

    async def decide(
        self, principal: Principal, approval_id: str, choice: approvals.Choice
    ) -> approvals.ApprovalView:
        """Record a person's decision on one approval (with its audit record), then wake its run."""
        self._require_live()

        def record() -> approvals.ApprovalView:
            with self.context.db.session() as session:
                return approvals.decide(session, principal, approval_id, choice, now=self.context.clock.now(),
                                        audit=audit_log(self.context), args_model=self._args_model)  # fmt: skip

        decided = await asyncio.to_thread(record)
        await self._wake(decided.run_id)
        return decided

    async def decide_run(
        self, principal: Principal, run_id: str, answers: Mapping[str, approvals.Choice]
    ) -> list[approvals.ApprovalView]:
        """Decide every open approval of one run (a call left out is denied), then wake it."""
        self._require_live()

        def record() -> list[approvals.ApprovalView]:
            with self.context.db.session() as session:
                return approvals.decide_run(session, principal, run_id, answers, now=self.context.clock.now(),
                                            audit=audit_log(self.context), args_model=self._args_model)  # fmt: skip

        decided = await asyncio.to_thread(record)
        await self._wake(run_id)
        return decided

    async def _wake(self, run_id: str) -> None:
        # Only a wake-up: the run reads the decisions from the approval records, committed before this.
        await DBOS.send_async(run_id, {"wake": True}, topic=APPROVAL_TOPIC)


def _answerable_conditions() -> set[str]:
    from meshclaw.connectors.catalog import all_connectors
    from meshclaw.runs.connector_hub import NEGATIONS

    answered = {name for connector in all_connectors() for name in connector.conditions}
    return answered | {negation for negation, asked in NEGATIONS.items() if asked in answered}
