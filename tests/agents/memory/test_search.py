"""Full-text recall: ranking, query text that looks like FTS syntax, and recall events; both databases."""

from __future__ import annotations

from sqlalchemy import func, select

from meshclaw.agents.memory.recall import recall
from meshclaw.agents.memory.search import fts5_match, search, search_terms
from meshclaw.agents.memory.store import list_items, remember
from meshclaw.context import AppContext
from meshclaw.db.models import MemoryRecall
from tests.agents.memory.conftest import T0
from tests.postgres import BOTH_BACKENDS

FACTS = (
    "Ada prefers espresso in the morning",
    "The deploy of web to production needs an approval from Bob",
    "Weekly deploy review happens on Thursday",
    "Carol's birthday is on March 3",
    "The web service deploys from the main branch; every deploy of web runs the smoke tests",
)


def _fill(context: AppContext, agent_id: int) -> dict[str, int]:
    with context.db.session() as session:
        return {
            fact: remember(
                session, agent_id=agent_id, content=fact, origin="trusted", source="tool", now=T0
            ).memory.id
            for fact in FACTS
        }


@BOTH_BACKENDS
def test_ranking_puts_the_best_match_first(context: AppContext, agent_id: int) -> None:
    ids = _fill(context, agent_id)
    with context.db.session() as session:
        hits = search(session, agent_id=agent_id, query="how does web get deployed?", now=T0)
        coffee = search(session, agent_id=agent_id, query="What does Ada like to drink? espresso?", now=T0)
    contents = [hit.memory.content for hit in hits]
    assert contents[0] == FACTS[4]  # "web" and "deploy" (stemmed), several times
    assert set(contents) == {FACTS[1], FACTS[2], FACTS[4]}
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    assert coffee[0].memory.id == ids[FACTS[0]]


HOSTILE = [
    '"unbalanced quote',
    "(deploy",
    "deploy)",
    "web AND",
    "AND OR NOT",
    "deploy*",
    "*",
    "NEAR(web deploy, 2)",
    "content: web",
    "{content}: web",
    "web - deploy ^ ~ + : ' \\",
    "x' OR '1'='1",
    "!!!",
    "",
    "日本語 のテキスト",
    "deploy & web | !bob <-> approval",
]


@BOTH_BACKENDS
def test_query_syntax_in_the_text_never_errors(context: AppContext, agent_id: int) -> None:
    _fill(context, agent_id)
    for query in HOSTILE:
        # One transaction per query: on PostgreSQL an error would abort the transaction for the rest.
        with context.db.session() as session:
            hits = search(session, agent_id=agent_id, query=query, now=T0)
        if "deploy" in query.lower():
            assert hits, query


def test_terms_are_plain_quoted_words() -> None:
    assert search_terms('Deploy "web" AND (prod*) deploy') == ["deploy", "web", "prod"]
    assert search_terms("What is it?") == ["what", "is", "it"]  # only stop words: kept
    assert fts5_match(["deploy", "and"]) == '"deploy" OR "and"'
    assert search_terms("___ !!") == []


@BOTH_BACKENDS
def test_recall_logs_events_and_bumps_counts(context: AppContext, agent_id: int) -> None:
    ids = _fill(context, agent_id)
    with context.db.session() as session:
        first = recall(session, agent_id=agent_id, query="deploy web", now=T0, limit=2, run_id="run-1")
        recall(session, agent_id=agent_id, query="espresso", now=T0, run_id="run-2")
        search(session, agent_id=agent_id, query="espresso", now=T0)  # a person browsing: not logged
    assert len(first) == 2
    with context.db.session() as session:
        events = session.execute(
            select(
                MemoryRecall.item_id, MemoryRecall.run_id, MemoryRecall.query, MemoryRecall.position
            ).order_by(MemoryRecall.id)
        ).all()
        counts = {m.id: m.recall_count for m in list_items(session, agent_id=agent_id, now=T0)}
        assert session.scalar(select(func.count()).select_from(MemoryRecall)) == 3
    assert [tuple(e) for e in events] == [
        (first[0].memory.id, "run-1", "deploy web", 1),
        (first[1].memory.id, "run-1", "deploy web", 2),
        (ids[FACTS[0]], "run-2", "espresso", 1),
    ]
    assert counts[ids[FACTS[0]]] == 1
    assert counts[ids[FACTS[3]]] == 0


@BOTH_BACKENDS
def test_limit_is_respected(context: AppContext, agent_id: int) -> None:
    _fill(context, agent_id)
    with context.db.session() as session:
        assert len(search(session, agent_id=agent_id, query="deploy", now=T0, limit=1)) == 1
        assert search(session, agent_id=agent_id, query="deploy", now=T0, limit=0) == []
