"""Admission: a run's record is written here, queued or `skipped` with the guard's reason.

Shared by the engine (in the server) and the CLI (which writes the record, then enqueues the workflow
through a DBOS client for the server to execute), so both apply the same guards.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.agents.runtime.contract import Conversation
from meshclaw.agents.spec import AgentSpec
from meshclaw.db.models import Agent, AgentVersion, User
from meshclaw.errors import NotFoundError
from meshclaw.notifications.store import notify
from meshclaw.runs import chat, guards, store

log = logging.getLogger("meshclaw.runs")


@dataclass(frozen=True, kw_only=True)
class AgentForRun:
    id: int
    org_id: int
    owner_user_id: int
    team_id: int | None
    name: str
    enabled: bool
    version_id: int
    spec: AgentSpec


def load_agent(session: Session, agent_id: int) -> AgentForRun:
    row = session.execute(
        select(Agent, AgentVersion, User.team_id)
        .join(AgentVersion, AgentVersion.id == Agent.current_version_id)
        .join(User, User.id == Agent.owner_user_id)
        .where(Agent.id == agent_id)
    ).first()
    if row is None:
        raise NotFoundError(f"agent {agent_id} does not exist or has no version yet")
    agent, version, team_id = row
    return AgentForRun(
        id=agent.id,
        org_id=agent.org_id,
        owner_user_id=agent.owner_user_id,
        team_id=team_id,
        name=agent.name,
        enabled=agent.enabled,
        version_id=version.id,
        spec=AgentSpec.model_validate(version.spec),
    )


def triggered_agents(
    session: Session, parsed: MutableMapping[int, AgentSpec] | None = None
) -> list[AgentForRun]:
    """Enabled agents whose current version has triggers or dreams: all a tick or an event needs to look at.

    Asked on every tick and for every event published, so it is one query for all enabled agents, and a
    version's spec is parsed only when its stored form has triggers or dreams; with `parsed` (the caller's
    cache, by version id: versions never change) at most once per version. One query per agent plus a
    parse of every spec took ~0.5 s of CPU at 1,000 agents, for each chat message and mail."""
    rows = session.execute(
        select(
            Agent.id,
            Agent.org_id,
            Agent.owner_user_id,
            Agent.name,
            AgentVersion.id,
            AgentVersion.spec,
            User.team_id,
        )
        .join(AgentVersion, AgentVersion.id == Agent.current_version_id)
        .join(User, User.id == Agent.owner_user_id)
        .where(Agent.enabled.is_(True))
        .order_by(Agent.id)
    ).all()
    found: list[AgentForRun] = []
    for agent_id, org_id, owner_user_id, name, version_id, data, team_id in rows:
        # The stored spec is the canonical dump (every field present), so this needs no parse.
        if not (data.get("triggers") or data.get("dreaming") is not None):
            continue
        spec = parsed.get(version_id) if parsed is not None else None
        if spec is None:
            spec = AgentSpec.model_validate(data)
            if parsed is not None:
                parsed[version_id] = spec
        found.append(
            AgentForRun(id=agent_id, org_id=org_id, owner_user_id=owner_user_id, team_id=team_id, name=name,
                        enabled=True, version_id=version_id, spec=spec)
        )  # fmt: skip
    return found


@dataclass(frozen=True, kw_only=True)
class Admitted:
    run_id: str
    owner_user_id: int
    queued: bool
    """False when a guard refused the run (recorded `skipped`)."""


def admit(
    session: Session,
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
    conditions: guards.Conditions,
    agent_concurrency: int,
    now: datetime,
) -> Admitted | None:
    """Record a run of the agent's current version, `queued` or `skipped`; None when a run with `run_id`
    exists already (the slot fired before). The caller enqueues a queued run after the commit."""
    run_id = run_id or f"run-{uuid.uuid4().hex}"
    if store.get_run(session, run_id) is not None:
        return None
    agent = load_agent(session, agent_id)
    reason = guards.refusal(
        session,
        org_id=agent.org_id,
        agent_id=agent.id,
        owner_user_id=agent.owner_user_id,
        enabled=agent.enabled,
        spec=agent.spec,
        now=now,
        agent_concurrency=agent_concurrency,
    )
    if reason is None and condition is not None:
        reason = conditions.refusal(condition, owner_user_id=agent.owner_user_id, now=now)
    new = store.NewRun(
        id=run_id,
        org_id=agent.org_id,
        agent_id=agent.id,
        agent_version_id=agent.version_id,
        owner_user_id=agent.owner_user_id,
        team_id=agent.team_id,
        started_by_user_id=started_by_user_id,
        trigger_kind=trigger_kind,
        trigger_detail=dict(trigger_detail or {}),
        mode=mode,
        input={"text": input_text, **({"conversation": chat.stored(conversation)} if conversation else {})},
    )
    if not store.insert_run(
        session, new, status="queued" if reason is None else "skipped", now=now, error=reason
    ):
        return None
    if reason is not None:
        log.info("run %s of agent %s skipped: %s", run_id, agent.name, reason)
    if started_by_user_id is not None and started_by_user_id != agent.owner_user_id:
        _tell_the_owner(session, agent, run_id, started_by_user_id, trigger_kind, now)
    return Admitted(run_id=run_id, owner_user_id=agent.owner_user_id, queued=reason is None)


def _tell_the_owner(
    session: Session,
    agent: AgentForRun,
    run_id: str,
    started_by_user_id: int,
    trigger_kind: store.TriggerKind,
    now: datetime,
) -> None:
    """An agent acts with its owner's grants: when someone else (an admin) starts it or chats with it,
    the owner hears of it, with a link to what it did, rather than finding it in the run history."""
    starter = session.get(User, started_by_user_id)
    who = starter.email if starter is not None else f"user {started_by_user_id}"
    what = {"chat": "sent a message to", "dream": "started a dream of"}.get(trigger_kind, "started a run of")
    notify(session, org_id=agent.org_id, user_id=agent.owner_user_id, kind="run.started_by_other",
           text=f"{who} {what} your agent '{agent.name}'", link=f"/runs/{run_id}", now=now)  # fmt: skip
