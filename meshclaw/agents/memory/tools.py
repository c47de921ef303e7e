"""The memory tools of one run: `memory_remember_item` (write_internal) and `memory_recall_items`
(read_private), bound to the run's agent and run id.

Trust follows the run, never the model: `tainted()` is the runtime's answer to "has this run read
content outsiders can write?" at the moment of the call. A tainted run's memories are stored as
`untrusted`. An untainted run recalls only trusted items (written by clean runs, by people, or confirmed
by one), because recalling untrusted text into a clean run would carry the taint in without the policy
gate seeing it; a run that is tainted already gets untrusted items too, marked as such.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from meshclaw.agents.memory.recall import recall
from meshclaw.agents.memory.search import Hit
from meshclaw.agents.memory.store import MAX_CONTENT, Kind, Origin, Remembered, remember
from meshclaw.agents.runtime.contract import RunRequest
from meshclaw.clock import Clock
from meshclaw.db.engine import Database
from meshclaw.errors import MeshclawError
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolError, ToolSpec
from meshclaw.tools.result_view import ResultView


def _recalled(hits: Any) -> Any:
    """Recalled memories for an answer written apart from outsiders' text: what a tainted run stored
    (origin `untrusted`, it may hold an outsider's words) under a key of its own, so the view withholds it."""
    return [
        {
            "id": hit["id"],
            "kind": hit["kind"],
            "origin": hit["origin"],
            "since": hit["since"],
            ("memory" if hit["origin"] == "trusted" else "untrusted_memory"): hit["content"],
        }
        for hit in hits
    ]


RECALL_VIEW = ResultView(fields=frozenset({"kind", "origin", "since", "memory"}), typed=_recalled, mixed=True)
"""A tainted run recalls untrusted memories too; only the owner's own reach an answer written apart."""


class RememberArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(
        min_length=1,
        max_length=MAX_CONTENT,
        description="One self-contained statement worth keeping, e.g. 'Ada prefers meetings after 10:00'.",
    )
    kind: Kind = Field(
        default="fact", description="fact, preference (someone's), episode (what happened) or note."
    )
    importance: float = Field(default=0.5, ge=0, le=1, description="0 (trivia) to 1 (must not forget).")


class RecallArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        min_length=1, max_length=1000, description="What you want to remember, in plain words."
    )
    limit: int = Field(default=5, ge=1, le=20, description="How many memories at most.")


def memory_tools(
    db: Database, clock: Clock, *, agent_id: int, run_id: str, tainted: Callable[[], bool]
) -> tuple[ToolSpec, ToolSpec]:
    """The two tools for one run of one agent."""

    # The database calls run on a worker thread: a run's event loop serves many runs at once, and a
    # SQLite write may wait for the lock.
    def store(args: RememberArgs, origin: Origin) -> Remembered:
        with db.session() as session:
            return remember(
                session,
                agent_id=agent_id,
                content=args.content,
                origin=origin,
                source="tool",
                run_id=run_id,
                kind=args.kind,
                importance=args.importance,
                now=clock.now(),
            )

    def search(args: RecallArgs, trusted_only: bool) -> list[Hit]:
        with db.session() as session:
            return recall(
                session,
                agent_id=agent_id,
                query=args.query,
                now=clock.now(),
                limit=args.limit,
                run_id=run_id,
                trusted_only=trusted_only,
            )

    async def memory_remember_item(args: RememberArgs) -> dict[str, Any]:
        origin: Origin = "untrusted" if tainted() else "trusted"
        try:
            done = await asyncio.to_thread(store, args, origin)
        except MeshclawError as exc:
            raise ToolError(exc.message) from None
        return {"id": done.memory.id, "stored": done.created, "already_known": not done.created}

    async def memory_recall_items(args: RecallArgs) -> list[dict[str, Any]]:
        hits = await asyncio.to_thread(search, args, not tainted())
        return [
            {
                "id": hit.memory.id,
                "content": hit.memory.content,
                "kind": hit.memory.kind,
                "origin": hit.memory.origin,
                "since": hit.memory.valid_from.date().isoformat(),
            }
            for hit in hits
        ]

    return (
        ToolSpec(
            name="memory_remember_item",
            description=(
                "Remember one thing for later runs (a fact, a preference, what happened). Identical "
                "memories are stored once."
            ),
            effect=EffectClass.WRITE_INTERNAL,
            args=RememberArgs,
            function=memory_remember_item,
            origin="memory",
        ),
        ToolSpec(
            name="memory_recall_items",
            description="Search your memory: the memories that best match the query, best first.",
            effect=EffectClass.READ_PRIVATE,
            args=RecallArgs,
            function=memory_recall_items,
            origin="memory",
            view=RECALL_VIEW,
        ),
    )


@dataclass(frozen=True)
class MemoryToolSource:
    """The runtime's per-run tool source (`RunToolSource`) for memory: nothing when the spec turns memory
    off, else the two tools bound to the run."""

    db: Database
    clock: Clock
    tainted: Callable[[RunRequest], bool]
    """Asked at each call: has this run (all its segments so far) read content outsiders can write?"""

    def tools_for(self, request: RunRequest) -> Sequence[ToolSpec]:
        if not request.spec.memory:
            return ()
        return memory_tools(
            self.db,
            self.clock,
            agent_id=request.agent_id,
            run_id=request.run_id,
            tainted=lambda: self.tainted(request),
        )

    def instructions_for(self, request: RunRequest) -> str | None:
        return None
