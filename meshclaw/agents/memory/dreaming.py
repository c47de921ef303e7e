"""Nightly dreaming: consolidate what an agent remembered during the day into durable memory.

One night, in three parts, so the runs layer can make the first and last durable steps and the middle one
model steps metered like any other (`meshclaw.runs.dreaming`):

1. `plan` (deterministic): the night's *candidates* are the active items written since the window start
   (the previous dream, or 24 hours ago); older active items are *prior memory*. Each item is scored from
   what recall logged (how often, for how many different questions, how recently) and the importance its
   writer gave it. Near-duplicates of the same kind (word overlap, see `similar`) are grouped, a group
   only when it holds a candidate. Items of untrusted origin that no person confirmed are never grouped
   (their text must not flow into a trusted item) and are dropped: all of tonight's, and prior ones only
   while the night has dropped at most `max_drop_share` of prior memory; the rest wait for later nights.
2. merging (`Merger`): each group becomes one statement, by the model when the agent has one and the
   night's token budget is not spent (`model_merger`: the same runtime and gateway path as the agent's
   runs, with a constrained answer), else by rule: the newest statement wins, which is also how a
   contradiction (an older "black coffee" against a newer "oat-milk flat white") resolves.
3. `apply`: snapshot first (`snapshots.take_snapshot`, so `restore_snapshot` undoes the night), then one
   trusted `dream` item per group superseding every member (each member keeps `superseded_by`, and the
   dream's `changes` list every id it came from: provenance), the drops as invalidations with their
   reason, and the `dreams` row with the counts and the diary.

Merging is not dropping: a merged item's content lives on in its successor, so only drops count against
the bound. Nothing is deleted; every change is an invalidation a snapshot restores.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast, get_args

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meshclaw.agents.memory import dreams as dream_rows
from meshclaw.agents.memory.search import STOPWORDS, search_terms
from meshclaw.agents.memory.snapshots import take_snapshot
from meshclaw.agents.memory.store import MAX_CONTENT, Kind, Memory, active, invalidate, memory_of, remember
from meshclaw.agents.runtime.contract import RunRequest, RunResult
from meshclaw.clock import Clock
from meshclaw.db.engine import Database
from meshclaw.db.models import MemoryItem, MemoryRecall

WINDOW = timedelta(hours=24)
"""The first night (no earlier dream) looks back this far for candidates."""
MAX_ITEMS = 2000
"""Items compared per night, newest first: grouping is quadratic, and a night must end."""
JACCARD = 0.6
OVERLAP = 0.75
"""Two statements are near-duplicates when their content words overlap this much (Jaccard), or when the
shorter one's words (at least `MIN_WORDS`) are nearly all in the longer one: "Ada drinks coffee black"
and "Ada now drinks her coffee with oat milk" are one fact at two times."""
MIN_WORDS = 3
UNTRUSTED_REASON = "dream {dream}: untrusted origin, not confirmed by a person"
MERGED_REASON = "dream {dream}: merged into item {into}"


@dataclass(frozen=True, kw_only=True)
class Group:
    """Near-duplicates, newest first."""

    item_ids: tuple[int, ...]
    contents: tuple[str, ...]
    kind: str
    importance: float
    """For the merged item: the highest of the members, raised for each repetition."""
    score: float


@dataclass(frozen=True, kw_only=True)
class Plan:
    agent_id: int
    window_start: datetime
    prior_count: int
    candidate_count: int
    groups: tuple[Group, ...]
    """Best-scored first: they get the model while the budget lasts."""
    drops: tuple[int, ...]
    """Untrusted, unconfirmed items dropped tonight."""
    deferred: tuple[int, ...]
    """Untrusted prior items the bound kept for a later night."""
    max_drops: int
    top: tuple[tuple[int, float], ...]
    """Tonight's best-scored trusted candidates (id, score), for the diary."""


@dataclass(frozen=True, kw_only=True)
class Merged:
    content: str
    tokens: int = 0
    by_model: bool = False


Merger = Callable[[Group, int], Awaitable[Merged | None]]
"""Merges one group within the tokens left (second argument); None leaves it to the rule."""


@dataclass(frozen=True, kw_only=True)
class DreamReport:
    dream_id: int
    snapshot_id: int
    counts: dict[str, int]
    changes: list[dict[str, Any]] = field(default_factory=list)
    diary: str = ""


# --- planning -------------------------------------------------------------------------------------


def words(content: str) -> frozenset[str]:
    """Content words (two letters or more), crudely stemmed (a plural and its singular are one word)."""
    return frozenset(
        word[:-1] if len(word) > 3 and word.endswith("s") else word
        for word in search_terms(content)
        if len(word) > 1 and word not in STOPWORDS  # one letter: the "s" of "Ada's"
    )


def similar(a: frozenset[str], b: frozenset[str]) -> bool:
    if not a or not b:
        return False
    shared = len(a & b)
    if shared / len(a | b) >= JACCARD:
        return True
    return min(len(a), len(b)) >= MIN_WORDS and shared / min(len(a), len(b)) >= OVERLAP


def _recall_stats(session: Session, agent_id: int) -> dict[int, int]:
    """Distinct questions each item answered (query diversity)."""
    rows = session.execute(
        select(MemoryRecall.item_id, func.count(func.distinct(MemoryRecall.query)))
        .where(MemoryRecall.agent_id == agent_id)
        .group_by(MemoryRecall.item_id)
    )
    return {int(item_id): int(count) for item_id, count in rows}


def score(memory: Memory, *, queries: int, max_recalls: int, max_queries: int, now: datetime) -> float:
    """0..1: frequency .35, query diversity .15, recency .25 (a week's half-life), importance .25."""
    frequency = memory.recall_count / max_recalls if max_recalls else 0.0
    diversity = queries / max_queries if max_queries else 0.0
    last = max(memory.created_at, memory.last_recalled_at or memory.created_at)
    age_days = max((now - last).total_seconds(), 0.0) / 86400
    recency = math.exp(-age_days * math.log(2) / 7)
    return round(0.35 * frequency + 0.15 * diversity + 0.25 * recency + 0.25 * memory.importance, 4)


def _grouped(memories: Sequence[Memory], window_start: datetime) -> list[list[Memory]]:
    """Connected near-duplicates (union-find over similar pairs of one kind) that hold a candidate."""
    parent = list(range(len(memories)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    bags = [words(m.content) for m in memories]
    for i in range(len(memories)):
        for j in range(i + 1, len(memories)):
            if memories[i].kind == memories[j].kind and similar(bags[i], bags[j]):
                parent[root(i)] = root(j)
    groups: dict[int, list[Memory]] = {}
    for i, memory in enumerate(memories):
        groups.setdefault(root(i), []).append(memory)
    return [
        members
        for members in groups.values()
        if len(members) > 1 and any(_candidate(m, window_start) for m in members)
    ]


def _candidate(memory: Memory, window_start: datetime) -> bool:
    """Written since the window start, and not by a dream (a night's own items are prior memory to the next)."""
    return memory.created_at >= window_start and memory.source != "dream"


def last_window_start(session: Session, agent_id: int, now: datetime) -> datetime:
    previous = dream_rows.latest(session, agent_id=agent_id)
    return previous.started_at if previous is not None else now - WINDOW


def plan(session: Session, *, agent_id: int, now: datetime, max_drop_share: float) -> Plan:
    window_start = last_window_start(session, agent_id, now)
    rows = session.scalars(
        select(MemoryItem)
        .where(MemoryItem.agent_id == agent_id, active(now))
        .order_by(MemoryItem.created_at.desc(), MemoryItem.id.desc())
        .limit(MAX_ITEMS)
    )
    memories = [memory_of(row) for row in rows]
    queries = _recall_stats(session, agent_id)
    max_recalls = max((m.recall_count for m in memories), default=0)
    max_queries = max(queries.values(), default=0)
    scores = {
        m.id: score(
            m, queries=queries.get(m.id, 0), max_recalls=max_recalls, max_queries=max_queries, now=now
        )
        for m in memories
    }
    candidates = [m for m in memories if _candidate(m, window_start)]
    prior = [m for m in memories if not _candidate(m, window_start)]
    max_drops = math.floor(max_drop_share * len(prior) + 1e-9)
    untrusted = [m for m in memories if m.origin != "trusted"]
    drops = [m.id for m in untrusted if m.created_at >= window_start]
    prior_untrusted = sorted(
        (m for m in untrusted if m.created_at < window_start), key=lambda m: scores[m.id]
    )
    drops += [m.id for m in prior_untrusted[:max_drops]]
    deferred = tuple(m.id for m in prior_untrusted[max_drops:])
    trusted = [m for m in memories if m.origin == "trusted"]
    groups = []
    for members in _grouped(trusted, window_start):
        members.sort(key=lambda m: (m.created_at, m.id), reverse=True)
        repeats = len(members) - 1
        groups.append(
            Group(
                item_ids=tuple(m.id for m in members),
                contents=tuple(m.content for m in members),
                kind=members[0].kind,
                importance=min(1.0, max(m.importance for m in members) + 0.1 * repeats),
                score=min(1.0, max(scores[m.id] for m in members) + 0.05 * repeats),
            )
        )
    groups.sort(key=lambda g: g.score, reverse=True)
    top = sorted(
        ((m.id, scores[m.id]) for m in candidates if m.origin == "trusted"), key=lambda t: t[1], reverse=True
    )[:5]
    return Plan(
        agent_id=agent_id,
        window_start=window_start,
        prior_count=len(prior),
        candidate_count=len(candidates),
        groups=tuple(groups),
        drops=tuple(drops),
        deferred=deferred,
        max_drops=max_drops,
        top=tuple(top),
    )


# --- merging --------------------------------------------------------------------------------------


def rule_merge(group: Group) -> Merged:
    """The newest statement: a later one restates or corrects the earlier ones."""
    return Merged(content=group.contents[0])


async def merge_all(plan: Plan, merger: Merger | None, *, max_tokens: int) -> tuple[list[Merged], int]:
    """One statement per group, the model's while the budget lasts; and the tokens it used."""
    used = 0
    merged: list[Merged] = []
    for group in plan.groups:
        result: Merged | None = None
        left = max_tokens - used
        if merger is not None and left > 0:
            result = await merger(group, left)
            if result is not None:
                used += result.tokens
        merged.append(result if result is not None and result.content.strip() else rule_merge(group))
    return merged, used


MERGE_INSTRUCTIONS = (
    "You consolidate an assistant's memory. You get several stored statements that say nearly the same "
    "thing, newest first. Answer with one self-contained statement that keeps every detail still true. "
    "When they contradict each other, the newest one is true now. Never add anything they do not say."
)
MERGE_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {"content": {"type": "string", "minLength": 1, "maxLength": 4000}},
    "required": ["content"],
    "additionalProperties": False,
}


ANSWER_TOKENS = 256
"""What one merged statement may cost to write, on top of its prompt."""


def estimated_tokens(request: RunRequest) -> int:
    """A generous guess (four characters a token) of one merge call, checked against the budget before it
    is made, so the night stays within `max_tokens` rather than passing it by one call."""
    return (len(MERGE_INSTRUCTIONS) + len(request.input)) // 4 + ANSWER_TOKENS


def merge_request(base: RunRequest, group: Group, tokens_left: int) -> RunRequest:
    """A tool-less, memory-less request of the agent's own model for one group, capped at the tokens left."""
    spec = base.spec.model_copy(
        update={
            "instructions": MERGE_INSTRUCTIONS,
            "tools": (),
            "mcp_servers": (),
            "skills": (),
            "memory": False,
            "template": None,  # a playbook agent's merges are model calls, not its playbook
            # The agent's own per-run limits (already narrowed to what its daily caps leave), with the
            # tokens cut to what is left of the night. model_copy skips validation: any positive cap goes.
            "limits": base.spec.limits.model_copy(
                update={
                    "max_steps": 2,
                    "max_tool_calls": 0,
                    "max_tokens": min(tokens_left, base.spec.limits.max_tokens),
                }
            ),
        }
    )
    statements = "\n".join(f"{n}. {content}" for n, content in enumerate(group.contents, start=1))
    return replace(
        base,
        spec=spec,
        input=f"Statements, newest first:\n{statements}",
        output_schema=MERGE_SCHEMA,
        resume=None,
    )


def model_merger(base: RunRequest, run: Callable[[RunRequest], Awaitable[RunResult]]) -> Merger:
    """A merger that asks the agent's model through `run` (the runtime, so the call is metered by the
    gateway and counted in the run's steps). A refusal or a malformed answer leaves the group to the rule."""

    async def merge(group: Group, tokens_left: int) -> Merged | None:
        request = merge_request(base, group, tokens_left)
        if estimated_tokens(request) > tokens_left:
            return None  # the call could pass the night's budget: the rule merges this group
        result = await run(request)
        tokens = result.usage.tokens.total
        output = result.output
        if result.status != "succeeded" or not isinstance(output, dict):
            return Merged(content="", tokens=tokens)  # spent, but no statement: the rule merges it
        content = output.get("content")
        if not isinstance(content, str) or not content.strip() or len(content.strip()) > MAX_CONTENT:
            return Merged(content="", tokens=tokens)
        return Merged(content=content.strip(), tokens=tokens, by_model=True)

    return merge


# --- applying -------------------------------------------------------------------------------------


def apply(
    session: Session,
    *,
    plan: Plan,
    merged: Sequence[Merged],
    tokens: int,
    now: datetime,
    run_id: str | None = None,
    user_id: int | None = None,
) -> DreamReport:
    """Snapshot, then write the night's changes and its `dreams` row. Items that changed since `plan`
    (invalidated by a person meanwhile) leave their group or drop alone."""
    agent_id = plan.agent_id
    snapshot = take_snapshot(
        session,
        agent_id=agent_id,
        reason=f"before dream (run {run_id or 'by hand'})",
        now=now,
        user_id=user_id,
    )
    dream = dream_rows.start(
        session,
        agent_id=agent_id,
        run_id=run_id,
        now=now,
        window_start=plan.window_start,
        snapshot_id=snapshot.id,
    )
    live = set(session.scalars(select(MemoryItem.id).where(MemoryItem.agent_id == agent_id, active(now))))
    changes: list[dict[str, Any]] = []
    merged_items = 0
    for group, statement in zip(plan.groups, merged, strict=True):
        members = [item_id for item_id in group.item_ids if item_id in live]
        if len(members) < 2:
            continue
        kept = remember(
            session,
            agent_id=agent_id,
            content=statement.content,
            origin="trusted",
            source="dream",
            now=now,
            run_id=run_id,
            kind=_kind(group.kind),
            importance=group.importance,
        )
        into = kept.memory.id
        row = session.get(MemoryItem, into)
        if row is not None and row.importance < group.importance:
            row.importance = group.importance  # an existing statement absorbed repeats: it grew stronger
        for item_id in members:
            if item_id != into:
                invalidate(session, agent_id=agent_id, item_id=item_id, now=now,
                           reason=MERGED_REASON.format(dream=dream.id, into=into), superseded_by=into)  # fmt: skip
                live.discard(item_id)
        merged_items += len(members)
        changes.append(
            {"change": "merged", "into": into, "content": statement.content, "from": members,
             "from_contents": [c for i, c in zip(group.item_ids, group.contents, strict=True) if i in members],
             "by": "model" if statement.by_model else "rule", "score": group.score}
        )  # fmt: skip
    dropped = 0
    for item_id in plan.drops:
        if item_id not in live:
            continue
        gone = invalidate(
            session,
            agent_id=agent_id,
            item_id=item_id,
            now=now,
            reason=UNTRUSTED_REASON.format(dream=dream.id),
        )
        dropped += 1
        changes.append(
            {"change": "dropped", "item": item_id, "content": gone.content, "reason": "untrusted origin",
             "source_run_id": gone.source_run_id, "prior": not _candidate(gone, plan.window_start)}
        )  # fmt: skip
    counts = {
        "candidates": plan.candidate_count,
        "prior": plan.prior_count,
        "merged_groups": sum(1 for c in changes if c["change"] == "merged"),
        "merged_items": merged_items,
        "dropped_untrusted": dropped,
        "drops_deferred": len(plan.deferred),
        "max_drops": plan.max_drops,
        "tokens": tokens,
    }
    diary = dream_rows.diary(dream_id=dream.id, started_at=now, window_start=plan.window_start, counts=counts,
                             changes=changes, snapshot_id=snapshot.id, top=plan.top)  # fmt: skip
    dream_rows.finish(session, dream.id, counts=counts, changes=changes, diary=diary)
    return DreamReport(
        dream_id=dream.id, snapshot_id=snapshot.id, counts=counts, changes=changes, diary=diary
    )


def _kind(value: str) -> Kind:
    return cast(Kind, value) if value in get_args(Kind) else "fact"


# --- one night, outside the runs engine (tests, and a server without one) ----------------------------


async def dream(
    db: Database,
    clock: Clock,
    *,
    agent_id: int,
    max_tokens: int,
    max_drop_share: float,
    merger: Merger | None = None,
    run_id: str | None = None,
) -> DreamReport:
    """Plan, merge and apply one night; the database work runs on a worker thread."""

    def planned() -> Plan:
        with db.session() as session:
            return plan(session, agent_id=agent_id, now=clock.now(), max_drop_share=max_drop_share)

    night = await asyncio.to_thread(planned)
    merged, used = await merge_all(night, merger, max_tokens=max_tokens)

    def applied() -> DreamReport:
        with db.session() as session:
            return apply(session, plan=night, merged=merged, tokens=used, now=clock.now(), run_id=run_id)

    return await asyncio.to_thread(applied)
