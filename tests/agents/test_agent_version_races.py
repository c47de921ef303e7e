"""Saves of one agent racing each other: of those made from the same version exactly one is saved, the
others are refused (412 through the API with If-Match), so no save overwrites a version its writer has not
seen. Through a real server with threads, and in the store with the second save held at the first's lock."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx

from meshclaw.agents import store
from meshclaw.agents.spec import AgentSpec
from meshclaw.context import AppContext
from meshclaw.identity import store as identity_store
from tests.conftest import LiveServer, People
from tests.postgres import BOTH_BACKENDS

ROUNDS = 6
RACERS = 4


def _put_at_once(url: str, key: str, *, if_match: str | None, turn: int) -> Counter[int]:
    """Each racer sends a definition of its own (none is the current one, which would be `unchanged`)."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(RACERS)

    def one(n: int) -> None:
        headers = {"Authorization": f"Bearer {key}", **({"If-Match": if_match} if if_match else {})}
        start.wait(timeout=10)
        answer = httpx.put(url, json={"spec": {"name": "triage", "purpose": f"round {turn}, racer {n}"}}, headers=headers,
                           timeout=30)  # fmt: skip
        with lock:
            statuses[answer.status_code] += 1

    threads = [threading.Thread(target=one, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return statuses


@BOTH_BACKENDS
def test_puts_with_the_same_if_match_at_once_save_exactly_one(live_server: LiveServer) -> None:
    context = live_server.context
    with context.db.session() as session:
        org = identity_store.get_org(session)
        assert org is not None
    alice = People(context, org.id).add()
    made = httpx.post(
        f"{live_server.url}/api/v1/agents", headers=alice.auth, json={"spec": {"name": "triage"}}
    )
    url = f"{live_server.url}/api/v1/agents/{made.json()['agent']['id']}"
    for n in range(1, ROUNDS + 1):
        statuses = _put_at_once(url, alice.key, if_match=f'"{n}"', turn=n)
        assert statuses == Counter({200: 1, 412: RACERS - 1}), (n, statuses)
    # Without If-Match nothing is promised but sanity: a save that lost the race is a 409, never a 500.
    statuses = _put_at_once(url, alice.key, if_match=None, turn=0)
    assert statuses[200] >= 1 and set(statuses) <= {200, 409}, statuses
    versions = httpx.get(f"{url}/versions", headers=alice.auth).json()
    assert [v["number"] for v in versions] == list(range(ROUNDS + 1 + statuses[200], 0, -1))


@BOTH_BACKENDS
def test_a_save_that_read_the_version_another_is_saving_over_is_refused(
    context: AppContext, org_id: int, people: People
) -> None:
    alice, bob = people.add(), people.add()
    now = context.clock.now()

    def save(purpose: str, by: int) -> store.Applied:
        with context.db.session() as session:
            return store.save_spec(session, org_id=org_id, owner_user_id=alice.id, created_by_user_id=by,
                                   spec=AgentSpec(name="triage", purpose=purpose), now=now,
                                   expected_version=1)  # fmt: skip

    with context.db.session() as session:
        agent = store.save_spec(session, org_id=org_id, owner_user_id=alice.id, created_by_user_id=alice.id,
                                spec=AgentSpec(name="triage"), now=now).agent  # fmt: skip
    outcome: list[object] = []

    def second() -> None:
        try:
            outcome.append(save("bob's", bob.id))
        except store.StaleVersionError as exc:
            outcome.append(exc)

    with context.db.session() as session:
        first = store.save_spec(session, org_id=org_id, owner_user_id=alice.id, created_by_user_id=alice.id,
                                spec=AgentSpec(name="triage", purpose="alice's"), now=now,
                                expected_version=1)  # fmt: skip
        # Bob's save starts while Alice's is written but not committed: it reads version 1 as current,
        # then waits for her lock (PostgreSQL: the agent's row; SQLite: the database's write lock).
        racer = threading.Thread(target=second)
        racer.start()
        time.sleep(0.5)
    racer.join(timeout=30)

    assert first.version.number == 2
    (refused,) = outcome
    assert isinstance(refused, store.StaleVersionError), refused
    assert refused.current is not None and (refused.current.number, refused.by) == (2, alice.email)
    with context.db.session() as session:
        versions = store.list_versions(session, agent.id)
        assert [v.number for v in versions] == [2, 1] and versions[0].spec_data["purpose"] == "alice's"
        assert store.get_agent(session, org_id, agent.id).current_version == 2
