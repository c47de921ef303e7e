"""Requests racing each other through a real server: the database's unique constraints decide, and the
loser gets 409 like any duplicate, never a 500."""

from __future__ import annotations

import threading
from collections import Counter

import httpx

from meshclaw.identity import store
from meshclaw.identity.principal import Role
from tests.conftest import LiveServer
from tests.postgres import BOTH_BACKENDS

ROUNDS = 12
RACERS = 4


def admin_key(live_server: LiveServer) -> str:
    context = live_server.context
    with context.db.session() as session:
        org = store.get_org(session)
        assert org is not None
        admin = store.create_user(
            session, org_id=org.id, email="admin@example.org", role=Role.ADMIN, now=context.clock.now()
        )
        _, key = store.create_key(
            session, org_id=org.id, owner_user_id=admin.id, name="k", now=context.clock.now()
        )
        return key


def race(url: str, key: str, body_for: dict[str, object]) -> Counter[int]:
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(RACERS)

    def one() -> None:
        start.wait(timeout=10)
        answer = httpx.post(url, json=body_for, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        with lock:
            statuses[answer.status_code] += 1

    threads = [threading.Thread(target=one) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return statuses


@BOTH_BACKENDS
def test_the_same_email_created_at_once_is_one_201_and_409s(live_server: LiveServer) -> None:
    key = admin_key(live_server)
    for n in range(ROUNDS):
        statuses = race(f"{live_server.url}/api/v1/users", key, {"email": f"twin{n}@example.org"})
        assert statuses == Counter({201: 1, 409: RACERS - 1}), statuses


@BOTH_BACKENDS
def test_the_same_team_created_at_once_is_one_201_and_409s(live_server: LiveServer) -> None:
    key = admin_key(live_server)
    for n in range(ROUNDS):
        statuses = race(f"{live_server.url}/api/v1/teams", key, {"name": f"Team {n}"})
        assert statuses == Counter({201: 1, 409: RACERS - 1}), statuses
