"""Remembering, invalidating, confirming and listing memory items, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from meshclaw.agents.memory.search import search
from meshclaw.agents.memory.store import confirm, invalidate, list_items, remember
from meshclaw.context import AppContext
from meshclaw.errors import InvalidInputError, NotFoundError
from tests.agents.memory.conftest import T0, add_agent
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS


@BOTH_BACKENDS
def test_identical_active_content_is_stored_once(context: AppContext, agent_id: int) -> None:
    with context.db.session() as session:
        first = remember(
            session, agent_id=agent_id, content="Ada drinks oat milk", origin="trusted", source="tool", now=T0
        )
        again = remember(
            session,
            agent_id=agent_id,
            content="  Ada   drinks oat milk\n",
            origin="trusted",
            source="tool",
            now=T0 + timedelta(minutes=1),
        )
        assert first.created and not again.created
        assert again.memory.id == first.memory.id
        invalidate(session, agent_id=agent_id, item_id=first.memory.id, now=T0 + timedelta(minutes=2))
        fresh = remember(
            session,
            agent_id=agent_id,
            content="Ada drinks oat milk",
            origin="trusted",
            source="tool",
            now=T0 + timedelta(minutes=3),
        )
    assert fresh.created and fresh.memory.id != first.memory.id  # the invalid one does not count


@BOTH_BACKENDS
def test_untrusted_origin_and_provenance_are_kept(context: AppContext, agent_id: int) -> None:
    with context.db.session() as session:
        done = remember(
            session,
            agent_id=agent_id,
            content="The invoice from ACME is due Friday",
            origin="untrusted",
            source="tool",
            run_id="run-42",
            kind="episode",
            importance=0.8,
            now=T0,
        )
        # The same text written later by a clean run does not launder the untrusted item.
        again = remember(
            session,
            agent_id=agent_id,
            content="The invoice from ACME is due Friday",
            origin="trusted",
            source="tool",
            now=T0,
        )
        stored = list_items(session, agent_id=agent_id, now=T0)
    assert again.memory.id == done.memory.id
    assert [(m.origin, m.source, m.source_run_id, m.kind, m.importance) for m in stored] == [
        ("untrusted", "tool", "run-42", "episode", 0.8)
    ]


@BOTH_BACKENDS
def test_confirm_turns_untrusted_into_trusted(context: AppContext, agent_id: int, people: People) -> None:
    reviewer = people.add()
    with context.db.session() as session:
        item = remember(
            session, agent_id=agent_id, content="Bob is on leave", origin="untrusted", source="tool", now=T0
        ).memory
        assert search(session, agent_id=agent_id, query="leave", now=T0, trusted_only=True) == []
        confirmed = confirm(session, agent_id=agent_id, item_id=item.id, user_id=reviewer.id, now=T0)
        assert (confirmed.origin, confirmed.confirmed_by_user_id) == ("trusted", reviewer.id)
        hits = search(session, agent_id=agent_id, query="leave", now=T0, trusted_only=True)
    assert [hit.memory.id for hit in hits] == [item.id]


@BOTH_BACKENDS
def test_invalidation_hides_from_search_but_keeps_the_item(context: AppContext, agent_id: int) -> None:
    later = T0 + timedelta(hours=1)
    with context.db.session() as session:
        old = remember(
            session,
            agent_id=agent_id,
            content="The staging URL is stage1",
            origin="trusted",
            source="tool",
            now=T0,
        ).memory
        new = remember(
            session,
            agent_id=agent_id,
            content="The staging URL is stage2",
            origin="trusted",
            source="dream",
            now=later,
            supersedes=[old.id],
        ).memory
        hits = search(session, agent_id=agent_id, query="staging URL", now=later)
        invalid = list_items(session, agent_id=agent_id, now=later, state="invalid")
        everything = list_items(session, agent_id=agent_id, now=later, state="all")
        before = search(session, agent_id=agent_id, query="staging URL", now=T0 + timedelta(minutes=1))
    assert [hit.memory.id for hit in hits] == [new.id]
    assert [(m.id, m.superseded_by, m.invalidated_reason) for m in invalid] == [
        (old.id, new.id, "superseded")
    ]
    assert len(everything) == 2
    assert [hit.memory.id for hit in before] == [old.id]  # what it believed back then


@BOTH_BACKENDS
def test_an_item_that_expires_leaves_recall_then(context: AppContext, agent_id: int) -> None:
    with context.db.session() as session:
        remember(
            session,
            agent_id=agent_id,
            content="Carol is out of office",
            origin="trusted",
            source="person",
            now=T0,
            valid_to=T0 + timedelta(days=2),
        )
        assert len(search(session, agent_id=agent_id, query="office", now=T0 + timedelta(days=1))) == 1
        assert search(session, agent_id=agent_id, query="office", now=T0 + timedelta(days=3)) == []


@BOTH_BACKENDS
def test_agents_do_not_see_each_others_memory(
    context: AppContext, org_id: int, agent_id: int, people: People
) -> None:
    other = add_agent(context, org_id, people.add().id, name="other")
    with context.db.session() as session:
        remember(session, agent_id=agent_id, content="secret plan", origin="trusted", source="tool", now=T0)
        assert search(session, agent_id=other, query="secret plan", now=T0) == []
        with pytest.raises(NotFoundError):
            invalidate(session, agent_id=other, item_id=1, now=T0)


BAD_INPUT: list[tuple[dict[str, object], str]] = [
    ({"content": "   "}, "content"),
    ({"content": "x" * 4001}, "content"),
    ({"origin": "maybe"}, "origin"),
    ({"source": "email"}, "source"),
    ({"kind": "rumour"}, "kind"),
    ({"importance": 2.0}, "importance"),
    ({"valid_to": T0}, "valid_to"),
    ({"valid_to": T0.replace(tzinfo=None) + timedelta(days=1)}, "valid_to"),
    ({"content": "nul \x00 byte"}, "content"),
]


def test_bad_input_names_the_field(context: AppContext, agent_id: int) -> None:
    for changes, field in BAD_INPUT:
        arguments: dict[str, object] = {
            "agent_id": agent_id,
            "content": "ok",
            "origin": "trusted",
            "source": "tool",
            "now": T0,
            **changes,
        }
        with context.db.session() as session, pytest.raises(InvalidInputError) as raised:
            remember(session, **arguments)  # type: ignore[arg-type]
        assert raised.value.field == field, changes
