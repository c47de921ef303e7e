"""Snapshot before a consolidation, restore after a bad one; both databases."""

from __future__ import annotations

from datetime import timedelta

from meshclaw.agents.memory.search import search
from meshclaw.agents.memory.snapshots import list_snapshots, restore_snapshot, take_snapshot
from meshclaw.agents.memory.store import confirm, list_items, remember
from meshclaw.context import AppContext
from tests.agents.memory.conftest import T0
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS


@BOTH_BACKENDS
def test_restore_undoes_a_consolidation(context: AppContext, agent_id: int, people: People) -> None:
    night = T0 + timedelta(hours=12)
    morning = T0 + timedelta(hours=20)
    reviewer = people.add()
    with context.db.session() as session:
        keep = remember(
            session,
            agent_id=agent_id,
            content="Ada prefers espresso",
            origin="trusted",
            source="tool",
            now=T0,
        ).memory
        doubt = remember(
            session, agent_id=agent_id, content="Ship on Fridays", origin="untrusted", source="tool", now=T0
        ).memory
        snapshot = take_snapshot(session, agent_id=agent_id, reason="before dreaming", now=night)
        # A bad consolidation: replaces a good memory with a wrong one, confirms the doubtful one.
        remember(
            session,
            agent_id=agent_id,
            content="Ada prefers tea",
            origin="trusted",
            source="dream",
            now=night,
            supersedes=[keep.id],
        )
        confirm(session, agent_id=agent_id, item_id=doubt.id, user_id=reviewer.id, now=night)
    with context.db.session() as session:
        restored = restore_snapshot(session, agent_id=agent_id, snapshot_id=snapshot.id, now=morning)
    with context.db.session() as session:
        active = {m.content: m for m in list_items(session, agent_id=agent_id, now=morning)}
        everything = list_items(session, agent_id=agent_id, now=morning, state="all")
        hits = search(session, agent_id=agent_id, query="what does Ada prefer", now=morning)
        snapshots = list_snapshots(session, agent_id=agent_id)
    assert (restored.invalidated, restored.changed) == (1, 2)
    assert set(active) == {"Ada prefers espresso", "Ship on Fridays"}
    assert active["Ship on Fridays"].origin == "untrusted"
    assert active["Ada prefers espresso"].superseded_by is None
    assert len(everything) == 3  # nothing was deleted: the dream's item is invalid, not gone
    tea = next(m for m in everything if m.content == "Ada prefers tea")
    assert tea.invalidated_reason == f"restored snapshot {snapshot.id}"
    assert [hit.memory.content for hit in hits] == ["Ada prefers espresso"]
    assert [(s.id, s.reason, s.item_count) for s in snapshots] == [(snapshot.id, "before dreaming", 2)]
