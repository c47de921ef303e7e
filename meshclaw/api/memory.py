"""/api/v1/agents/{agent_id}/memory: what an agent remembers, for the people responsible for it, and its
dreams (the nightly consolidations, with their diaries; `POST .../memory/dreams` dreams now).

The agent's owner and admins list, search, add, invalidate and confirm items and restore snapshots;
auditors read. Managers do not see their teams' agents' memory (it can hold the owner's private matters):
they get 403 where they may read the agent itself, and everyone else 404, as for the agent.

Items added here come from a person, so they are `trusted` with source `person`. Searching here is not
the agent recalling: it leaves no recall event and does not promote an item for dreaming.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from meshclaw.agents.memory import dreams as dream_rows
from meshclaw.agents.memory import snapshots
from meshclaw.agents.memory import store as memory_store
from meshclaw.agents.memory.search import search
from meshclaw.agents.memory.store import MAX_CONTENT, Kind, Memory, Origin, Source, State
from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.row_ids import RowId
from meshclaw.errors import NotFoundError, PermissionDeniedError
from meshclaw.identity.authorize import Action, Resource, is_allowed
from meshclaw.identity.principal import Principal
from meshclaw.metering.queries import MAX_ID

router = APIRouter(prefix="/agents/{agent_id}/memory", tags=["memory"])


class MemoryOut(BaseModel):
    id: int
    agent_id: int
    content: str
    kind: str = Field(description="fact, preference, episode or note")
    importance: float = Field(description="0 to 1")
    origin: str = Field(
        description="trusted, or untrusted: written by a run that had read outsiders' content"
    )
    source: str = Field(description="tool (the agent in a run), person (this API) or dream (consolidation)")
    source_run_id: str | None
    created_by_user_id: int | None
    confirmed_by_user_id: int | None
    confirmed_at: datetime | None
    valid_from: datetime
    valid_to: datetime | None = Field(description="When it stopped (or stops) being valid; null: still valid")
    invalidated_reason: str | None
    superseded_by: int | None
    recall_count: int
    last_recalled_at: datetime | None
    created_at: datetime


class HitOut(MemoryOut):
    score: float = Field(description="Relevance, higher is better (bm25 on SQLite, ts_rank on PostgreSQL)")


class MemoryAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, max_length=MAX_CONTENT)
    kind: Kind = "fact"
    importance: float = Field(default=0.5, ge=0, le=1)
    valid_to: datetime | None = Field(default=None, description="When it stops being true, if known")


class Invalidate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


class SnapshotTake(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="taken by hand", max_length=200)


class SnapshotOut(BaseModel):
    id: int
    agent_id: int
    taken_at: datetime
    reason: str
    item_count: int
    taken_by_user_id: int | None


class RestoredOut(BaseModel):
    snapshot_id: int
    changed: int = Field(description="Items whose state went back to the snapshot's")
    invalidated: int = Field(description="Items added after the snapshot, now invalid (not deleted)")


def memory_out(memory: Memory) -> MemoryOut:
    return MemoryOut(**memory.__dict__)


def _check(session: Session, principal: Principal, agent_id: int, action: Action) -> None:
    """404 unless the principal may see the agent; 403 when they may see it but not do `action` here."""
    try:
        owner = memory_store.agent_owner(session, agent_id)
    except NotFoundError:
        owner = None
    hidden = NotFoundError(f"agent {agent_id} does not exist or is not visible to you")
    if owner is None or owner.org_id != principal.org_id:
        raise hidden
    memory = Resource(
        kind="agent_memory", id=agent_id, owner_user_id=owner.owner_user_id, team_id=owner.owner_team_id
    )
    if is_allowed(principal, action, memory):
        return
    agent = Resource(
        kind="agent", id=agent_id, owner_user_id=owner.owner_user_id, team_id=owner.owner_team_id
    )
    if is_allowed(principal, "read", agent) or is_allowed(principal, "read", memory):
        raise PermissionDeniedError(f"your role does not allow '{action}' on this agent's memory")
    raise hidden


@router.get("", response_model=list[MemoryOut])
def list_memory(
    agent_id: RowId,
    principal: CurrentPrincipal,
    context: Context,
    state: Annotated[State, Query(description="active (valid now), invalid, or all")] = "active",
    origin: Origin | None = None,
    kind: Kind | None = None,
    source: Source | None = None,
    run_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[MemoryOut]:
    """The agent's items, newest first."""
    with context.db.session() as session:
        _check(session, principal, agent_id, "read")
        items = memory_store.list_items(
            session,
            agent_id=agent_id,
            now=context.clock.now(),
            state=state,
            origin=origin,
            kind=kind,
            source=source,
            run_id=run_id,
            limit=limit,
            offset=offset,
        )
    return [memory_out(item) for item in items]


@router.get("/search", response_model=list[HitOut])
def search_memory(
    agent_id: RowId,
    principal: CurrentPrincipal,
    context: Context,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="Plain words; no query syntax")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[HitOut]:
    """Valid items matching any word of `q`, best first. Not logged as a recall."""
    with context.db.session() as session:
        _check(session, principal, agent_id, "read")
        hits = search(session, agent_id=agent_id, query=q, now=context.clock.now(), limit=limit)
    return [HitOut(**hit.memory.__dict__, score=hit.score) for hit in hits]


@router.post("", response_model=MemoryOut, status_code=201)
def add_memory(
    agent_id: RowId, body: MemoryAdd, response: Response, principal: CurrentPrincipal, context: Context
) -> MemoryOut:
    """Add an item as the person calling (trusted). An identical valid item is returned instead (200)."""
    with context.db.session() as session:
        _check(session, principal, agent_id, "create")
        done = memory_store.remember(
            session,
            agent_id=agent_id,
            content=body.content,
            origin="trusted",
            source="person",
            kind=body.kind,
            importance=body.importance,
            valid_to=body.valid_to,
            user_id=principal.user_id,
            now=context.clock.now(),
        )
    if not done.created:
        response.status_code = 200
    return memory_out(done.memory)


@router.post("/{item_id}/invalidate", response_model=MemoryOut)
def invalidate_memory(
    agent_id: RowId, item_id: RowId, body: Invalidate, principal: CurrentPrincipal, context: Context
) -> MemoryOut:
    """End the item's validity now; it stays listed under `state=invalid`, never deleted."""
    with context.db.session() as session:
        _check(session, principal, agent_id, "update")
        item = memory_store.invalidate(
            session, agent_id=agent_id, item_id=item_id, now=context.clock.now(), reason=body.reason
        )
    return memory_out(item)


@router.post("/{item_id}/confirm", response_model=MemoryOut)
def confirm_memory(
    agent_id: RowId, item_id: RowId, principal: CurrentPrincipal, context: Context
) -> MemoryOut:
    """Vouch for the item: an untrusted item becomes trusted, recording who confirmed it."""
    with context.db.session() as session:
        _check(session, principal, agent_id, "update")
        item = memory_store.confirm(
            session, agent_id=agent_id, item_id=item_id, user_id=principal.user_id, now=context.clock.now()
        )
    return memory_out(item)


@router.get("/snapshots", response_model=list[SnapshotOut])
def list_memory_snapshots(
    agent_id: RowId, principal: CurrentPrincipal, context: Context
) -> list[SnapshotOut]:
    with context.db.session() as session:
        _check(session, principal, agent_id, "read")
        taken = snapshots.list_snapshots(session, agent_id=agent_id)
    return [SnapshotOut(**info.__dict__) for info in taken]


@router.post("/snapshots", response_model=SnapshotOut, status_code=201)
def take_memory_snapshot(
    agent_id: RowId, body: SnapshotTake, principal: CurrentPrincipal, context: Context
) -> SnapshotOut:
    with context.db.session() as session:
        _check(session, principal, agent_id, "update")
        info = snapshots.take_snapshot(
            session, agent_id=agent_id, reason=body.reason, now=context.clock.now(), user_id=principal.user_id
        )
    return SnapshotOut(**info.__dict__)


@router.post("/snapshots/{snapshot_id}/restore", response_model=RestoredOut)
def restore_memory_snapshot(
    agent_id: RowId, snapshot_id: RowId, principal: CurrentPrincipal, context: Context
) -> RestoredOut:
    """Make the agent's memory what it was at the snapshot: later items are invalidated, not deleted."""
    with context.db.session() as session:
        _check(session, principal, agent_id, "update")
        done = snapshots.restore_snapshot(
            session, agent_id=agent_id, snapshot_id=snapshot_id, now=context.clock.now()
        )
    return RestoredOut(snapshot_id=done.snapshot_id, changed=done.changed, invalidated=done.invalidated)


class DreamOut(BaseModel):
    id: int
    agent_id: int
    run_id: str | None = Field(description="The run (trigger kind dream) that dreamt it")
    started_at: datetime
    window_start: datetime = Field(description="Items written since then were the night's candidates")
    snapshot_id: int | None = Field(description="Restore it to undo the night")
    counts: dict[str, int] = Field(
        description="candidates, prior, merged_groups, merged_items, dropped_untrusted, drops_deferred, "
        "max_drops, tokens"
    )
    changes: list[dict[str, Any]] = Field(description="Each merge (into, from) and drop, with provenance")
    diary: str = Field(description="The night in sentences")


class DreamStarted(BaseModel):
    run_id: str
    status: str = Field(
        description="queued, or skipped when a guard refused the run (see GET /api/v1/runs/{id})"
    )


@router.get("/dreams", response_model=list[DreamOut])
def list_dreams(
    agent_id: RowId,
    principal: CurrentPrincipal,
    context: Context,
    limit: Annotated[int, Query(ge=1, le=365)] = 30,
) -> list[DreamOut]:
    """The agent's dreams, newest first, each with its diary."""
    with context.db.session() as session:
        _check(session, principal, agent_id, "read")
        found = dream_rows.list_dreams(session, agent_id=agent_id, limit=limit)
    return [DreamOut(**info.__dict__) for info in found]


@router.get("/dreams/{dream_id}", response_model=DreamOut)
def get_dream(agent_id: RowId, dream_id: RowId, principal: CurrentPrincipal, context: Context) -> DreamOut:
    with context.db.session() as session:
        _check(session, principal, agent_id, "read")
        info = dream_rows.get_dream(session, agent_id=agent_id, dream_id=dream_id)
    return DreamOut(**info.__dict__)


@router.post("/dreams", response_model=DreamStarted, status_code=202)
async def dream_now(
    agent_id: RowId, principal: CurrentPrincipal, context: Context, request: Request
) -> DreamStarted:
    """Start a dream now: a run with trigger kind `dream`, under the same guards as any run."""
    from meshclaw.api.runs import engine_of
    from meshclaw.runs import store as runs_store

    engine = engine_of(request)

    def start() -> DreamStarted:
        with context.db.session() as session:
            _check(session, principal, agent_id, "update")
        run_id = engine.dream_now(agent_id, started_by_user_id=principal.user_id, by=principal.email)
        with context.db.session() as session:
            run = runs_store.get_run(session, run_id)
            status = run.status if run is not None else "queued"
        return DreamStarted(run_id=run_id, status=status)

    return await asyncio.to_thread(start)
