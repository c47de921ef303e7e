"""Kill switches: stop every run of one agent, of one person's agents, or of the whole organization.

Engaging a switch, in one transaction: the switch row; every active run in its scope (queued, running,
waiting for an approval) ended `cancelled` with an error naming the switch (a final status is never
overwritten, so the workflow's own ending later changes nothing); and a notification to each owner whose
runs or agents it stops. The caller adds the audit record to the same transaction.

Stopping the work itself is the executor's part: `should_stop` is asked before every model request and
tool call, and answers from `SwitchBoard`, an in-memory copy of the engaged switches. A switch engaged in
another process (the CLI, a second server) is seen when the copy is next re-read, at most `ttl_s` later;
one engaged in this process is seen at once (`SwitchBoard.refresh`). The re-read is a blocking query, so
while runs go it happens in a worker thread, never on their event loop (`SwitchBoard` says how). New runs
are refused at admission (recorded `skipped` with the reason) from the database itself, and time and event
triggers skip agents under a switch without recording anything.

The organization is one per deployment, so the board does not key switches by organization.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.db.engine import Database
from meshclaw.db.models import Agent, KillSwitch, Run, User
from meshclaw.errors import ConflictError, NotFoundError
from meshclaw.notifications.store import notify
from meshclaw.runs import store

log = logging.getLogger("meshclaw.runs")

Scope = Literal["org", "user", "agent"]
SCOPES: tuple[Scope, ...] = ("org", "user", "agent")


@dataclass(frozen=True, kw_only=True)
class Engaged:
    switch: KillSwitch
    label: str
    stopped_run_ids: list[str]


def label(session: Session, switch: KillSwitch) -> str:
    """How messages name the switch: "the organization-wide kill switch", "the kill switch on agent 'x'"."""
    if switch.scope == "org":
        return "the organization-wide kill switch"
    if switch.scope == "user":
        email = session.scalar(select(User.email).where(User.id == switch.target_id))
        return f"the kill switch on {email or f'user {switch.target_id}'}'s agents"
    name = session.scalar(select(Agent.name).where(Agent.id == switch.target_id))
    return f"the kill switch on agent '{name or switch.target_id}'"


def covers(switch: KillSwitch, *, agent_id: int, owner_user_id: int) -> bool:
    return (
        switch.scope == "org"
        or (switch.scope == "user" and switch.target_id == owner_user_id)
        or (switch.scope == "agent" and switch.target_id == agent_id)
    )


def engaged(session: Session, org_id: int | None = None) -> list[KillSwitch]:
    """The switches engaged now (an indexed read of the rows not released)."""
    query = select(KillSwitch).where(KillSwitch.released_at.is_(None))
    if org_id is not None:
        query = query.where(KillSwitch.org_id == org_id)
    return list(session.scalars(query.order_by(KillSwitch.id)).all())


def covering(session: Session, *, org_id: int, agent_id: int, owner_user_id: int) -> KillSwitch | None:
    """The engaged switch that stops this agent, or None."""
    for switch in engaged(session, org_id):
        if covers(switch, agent_id=agent_id, owner_user_id=owner_user_id):
            return switch
    return None


def refusal(session: Session, *, org_id: int, agent_id: int, owner_user_id: int) -> str | None:
    """Why a new run may not start because of a switch, or None."""
    switch = covering(session, org_id=org_id, agent_id=agent_id, owner_user_id=owner_user_id)
    return None if switch is None else f"{label(session, switch)} is engaged ({switch.reason})"


def history(session: Session, org_id: int, *, limit: int = 50) -> list[KillSwitch]:
    """Every switch, engaged or released, newest first."""
    query = select(KillSwitch).where(KillSwitch.org_id == org_id).order_by(KillSwitch.id.desc()).limit(limit)
    return list(session.scalars(query).all())


def get(session: Session, org_id: int, switch_id: int) -> KillSwitch:
    switch = session.get(KillSwitch, switch_id)
    if switch is None or switch.org_id != org_id:
        raise NotFoundError(f"kill switch {switch_id} does not exist")
    return switch


def find_engaged(session: Session, org_id: int, scope: Scope, target_id: int | None) -> KillSwitch | None:
    for switch in engaged(session, org_id):
        if switch.scope == scope and switch.target_id == target_id:
            return switch
    return None


def engage(
    session: Session,
    *,
    org_id: int,
    scope: Scope,
    target_id: int | None,
    reason: str,
    by_user_id: int | None,
    now: datetime,
) -> Engaged:
    """Engage the switch and end the runs it covers (see the module docstring). 409 if it is engaged."""
    if (scope == "org") != (target_id is None):
        raise ValueError("an org switch has no target; a user or agent switch needs one")
    if find_engaged(session, org_id, scope, target_id) is not None:
        raise ConflictError("this kill switch is already engaged; release it first to engage it again")
    switch = KillSwitch(
        org_id=org_id, scope=scope, target_id=target_id, reason=reason.strip() or "no reason given",
        engaged_by_user_id=by_user_id, engaged_at=now,
    )  # fmt: skip
    session.add(switch)
    session.flush()
    named = label(session, switch)
    stopped: list[str] = []
    owners: set[int] = set()
    for run in _active_runs(session, org_id, switch):
        error = f"stopped by {named}: {switch.reason}"
        if store.finish_run(session, run.id, "cancelled", output=None, error=error, now=now):
            stopped.append(run.id)
            owners.add(run.owner_user_id)
    if scope == "user" and target_id is not None:
        owners.add(target_id)
    if scope == "agent":
        owner = session.scalar(select(Agent.owner_user_id).where(Agent.id == target_id))
        if owner is not None:
            owners.add(owner)
    owners.discard(by_user_id or 0)  # whoever pulled it knows
    stopped_note = f"; {len(stopped)} running run(s) stopped" if stopped else ""
    for owner in sorted(owners):
        notify(session, org_id=org_id, user_id=owner, kind="kill_switch.engaged",
               text=f"{named[:1].upper()}{named[1:]} was engaged: {switch.reason}{stopped_note}. "
               "The agents it covers start no run until it is released.",
               link=None, now=now)  # fmt: skip
    return Engaged(switch=switch, label=named, stopped_run_ids=stopped)


def release(session: Session, switch: KillSwitch, *, by_user_id: int | None, now: datetime) -> KillSwitch:
    if switch.released_at is not None:
        raise ConflictError("this kill switch was released already")
    switch.released_at = now
    switch.released_by_user_id = by_user_id
    session.flush()
    return switch


def _active_runs(session: Session, org_id: int, switch: KillSwitch) -> Sequence[Run]:
    query = select(Run).where(Run.org_id == org_id, Run.status.in_(store.ACTIVE))
    if switch.scope == "user":
        query = query.where(Run.owner_user_id == switch.target_id)
    elif switch.scope == "agent":
        query = query.where(Run.agent_id == switch.target_id)
    return session.scalars(query).all()


# --- the executor's view -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Snapshot:
    org: bool
    users: frozenset[int]
    agents: frozenset[int]


class SwitchBoard:
    """The engaged switches, in memory, re-read when older than `ttl_s`.

    `stops()` runs before every model request and tool call of every run, so it must cost next to nothing:
    an answer from memory is a clock reading and three set lookups (1.0 us), a re-read one indexed query
    of the unreleased rows in its own session (2.8 ms on SQLite on the shared 2-core test machine; both
    measured by tests/runs/test_kill_switches.py), at most once per `ttl_s` per process, however many
    runs are going. A run therefore never queries the database per tool call.

    Nor does the re-read block the runs' event loop (DBOS's, shared by every run of the process): the
    first check made on an event loop starts a keeper task there that re-reads every `ttl_s / 2` in a
    worker thread (`asyncio.to_thread`, as the gateway's key cache does), so the copy a check finds is
    younger than `ttl_s` and the check only reads memory. The keeper ends after `IDLE_S` without a check.
    A check reads the database itself only when the copy is older than `ttl_s` anyway (the first check
    after a quiet spell, a keeper that failed, a caller without an event loop such as the scheduler
    thread) and to confirm a yes, which happens once per run it stops."""

    CONFIRM_S = 0.05
    IDLE_S = 30.0

    def __init__(self, db: Database, *, ttl_s: float = 1.0) -> None:
        self._db = db
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._snapshot = _Snapshot(org=False, users=frozenset(), agents=frozenset())
        self._read_at = float("-inf")
        self._asked_at = float("-inf")
        self._keeper: asyncio.Task[None] | None = None

    def refresh(self) -> None:
        started = time.monotonic()  # the copy is as old as the query's start
        with self._db.session() as session:
            switches = engaged(session)
        snapshot = _Snapshot(
            org=any(s.scope == "org" for s in switches),
            users=frozenset(s.target_id for s in switches if s.scope == "user" and s.target_id is not None),
            agents=frozenset(s.target_id for s in switches if s.scope == "agent" and s.target_id is not None),
        )
        with self._lock:
            if started > self._read_at:  # a slower, older read never replaces a newer one
                self._snapshot, self._read_at = snapshot, started

    def stops(self, *, agent_id: int, owner_user_id: int) -> bool:
        self._asked_at = time.monotonic()
        self._keep_fresh()
        age = time.monotonic() - self._read_at
        if age > self._ttl_s:
            self.refresh()
        elif age > self.CONFIRM_S and self._covered(agent_id, owner_user_id):
            # A yes ends the run: confirm it with a fresh read, so a switch released a moment ago in
            # another process never stops a run that started after the release.
            self.refresh()
        return self._covered(agent_id, owner_user_id)

    def _keep_fresh(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop to keep free: this thread may wait for a read
        keeper = self._keeper
        if keeper is not None and not keeper.done() and not keeper.get_loop().is_closed():
            return
        self._keeper = loop.create_task(self._keep(), name="kill switches: keep the copy fresh")

    async def _keep(self) -> None:
        while time.monotonic() - self._asked_at < self.IDLE_S:
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:
                # The checks read the database themselves once the copy is older than ttl_s.
                log.exception("re-reading the kill switches failed; the checks will read them directly")
                return
            await asyncio.sleep(self._ttl_s / 2)

    def _covered(self, agent_id: int, owner_user_id: int) -> bool:
        snapshot = self._snapshot
        return snapshot.org or owner_user_id in snapshot.users or agent_id in snapshot.agents
