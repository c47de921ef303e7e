"""Approvals by Matrix reaction, end to end through the real server and a real Synapse: a waiting run's
exact call is posted to its owner's DM and the owner's 👍 approves it, and the run does it. (A stranger
cannot even react in that DM; reactions of others in shared rooms are refused by the connector and by the
hub, tests/connectors/matrix/test_approvals.py and tests/accounts/test_chat_approvals.py.)"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from nio import AsyncClient, AsyncClientConfig, RoomSendResponse
from sqlalchemy import select

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import ConnectorEventKey
from tests.conftest import People
from tests.runs.records import save_agent, wait_final, wait_status
from tests.servers.matrix import MatrixUser, Synapse

T = TypeVar("T")
APPROVAL_FIELD = "org.meshclaw.approval_id"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # The compromised agent mails whatever address its input names; an outsider's address needs approval.
    return load_settings(
        data_dir=tmp_path, database_url=database_url, runs_executor="tests.policy.compromised_agent:build"
    )


def run(coro: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def client_of(server: Synapse, user: MatrixUser) -> AsyncClient:
    client = AsyncClient(server.url, user.user_id, config=AsyncClientConfig(request_timeout=10))
    client.access_token, client.user_id, client.device_id = user.access_token, user.user_id, user.device_id
    return client


async def find_prompt(server: Synapse, owner: MatrixUser, approval_id: str) -> tuple[str, str]:
    """Join the DM the bot invited the owner to and find the prompt; (room id, event id)."""
    client = await client_of(server, owner)
    try:
        for _ in range(100):
            synced = await client.sync(timeout=0, full_state=True)
            for room_id in list(synced.rooms.invite):
                await client.join(room_id)
            for room_id in list(synced.rooms.join):
                messages = await client.room_messages(room_id, start="", limit=50)
                for event in messages.chunk:
                    if event.source.get("content", {}).get(APPROVAL_FIELD) == approval_id:
                        return room_id, str(event.event_id)
            await asyncio.sleep(0.3)
    finally:
        await client.close()
    raise AssertionError(f"approval {approval_id} was not posted to the owner's DM")


async def send(server: Synapse, user: MatrixUser, room_id: str, content: dict[str, Any], kind: str) -> None:
    client = await client_of(server, user)
    try:
        response = await client.room_send(room_id, kind, content)
        assert isinstance(response, RoomSendResponse), response
    finally:
        await client.close()


def wait_heard(context: AppContext, server: Synapse, user: MatrixUser, room_id: str) -> None:
    """The user posts "probe" in the room until the account's sync source has made one an event (its key is
    recorded): the source is then past its first sync and hears what follows."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run(send(server, user, room_id, {"msgtype": "m.text", "body": "probe"}, "m.room.message"))
        with context.db.session() as session:
            if session.scalars(select(ConnectorEventKey)).first() is not None:
                return
        time.sleep(0.5)
    raise AssertionError(f"the account's sync source never heard room {room_id}")


def react(server: Synapse, user: MatrixUser, room_id: str, event_id: str, key: str) -> None:
    relation = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
    run(send(server, user, room_id, {"m.relates_to": relation}, "m.reaction"))


def sent(context: AppContext) -> list[dict[str, Any]]:
    log = context.settings.data_dir / "sent.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_an_approval_is_answered_by_the_owners_reaction_in_matrix(
    app_client: TestClient, context: AppContext, org_id: int, people: People,
    synapse: Synapse,
) -> None:  # fmt: skip
    owner = people.add()
    bot, owner_mx = synapse.register("bot"), synapse.register("owner")
    stored = app_client.post("/api/v1/vault/secrets", headers=owner.auth,
                             json={"name": "matrix-token", "value": bot.access_token})  # fmt: skip
    assert stored.status_code == 201, stored.text
    config = {"homeserver": synapse.url, "user_id": bot.user_id, "access_token": "vault:matrix-token",
              "owner_matrix_user": owner_mx.user_id, "timeout_s": 10}  # fmt: skip
    added = app_client.post("/api/v1/accounts", headers=owner.auth,
                            json={"name": "work-matrix", "connector": "matrix", "config": config})  # fmt: skip
    assert added.status_code == 201, added.text
    save_agent(
        context, org_id, owner, "mailer", model={"name": "scripted"}, tools=[{"tool": "mail_send_message"}]
    )
    started = app_client.post("/api/v1/runs", headers=owner.auth,
                              json={"agent": "mailer", "input": "send the agenda to ann@partner.example"})  # fmt: skip
    run_id = started.json()["id"]
    wait_status(context, run_id, "waiting_approval", timeout=60)
    (pending,) = app_client.get(f"/api/v1/runs/{run_id}", headers=owner.auth).json()["pending_approvals"]
    room_id, prompt_id = run(find_prompt(synapse, owner_mx, pending["id"]))

    wait_heard(context, synapse, owner_mx, room_id)

    react(synapse, owner_mx, room_id, prompt_id, "👍")
    assert wait_final(context, run_id, timeout=60) == "succeeded"
    assert [m["to"] for m in sent(context)] == [["ann@partner.example"]]
    decided = app_client.get(f"/api/v1/approvals/{pending['id']}", headers=owner.auth).json()
    assert decided["status"] == "used" and decided["note"] == "answered in matrix (work-matrix)"
