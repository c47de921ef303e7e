"""Deploy on request by a mention in a Matrix room, end to end: the real server and runs engine, a real
Synapse (the account's sync source hears the room), the real blue/green setup deploying.

Mallory, a member of the room, mentions the bot with the owner's request: no run. The owner's mention
becomes one fixed deploy that waits for her 👍 on the prompt in her DM, is deployed and watched, marked
with 🚀 and ✅, and answered with a reply to her message once she approved that reply."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from tests.accounts.test_chat_assistant_matrix import join, messages, room_with_bot, say
from tests.accounts.test_matrix_approvals import client_of, find_prompt, react, run, wait_heard
from tests.agents.playbooks.deploy_settings import settings  # noqa: F401  (fixture)
from tests.agents.playbooks.deploy_setup import (
    WINDOW_S,
    add_account,
    approve,
    deploy_config,
    from_template,
    next_run,
    outcomes,
    pending_approval,
    runs_of,
)  # fmt: skip
from tests.agents.playbooks.test_deploy_on_request import deploys_in_ledger
from tests.conftest import People
from tests.connectors.deploy.test_bluegreen import traffic
from tests.runs.records import wait_final, wait_status
from tests.servers.deploy import BlueGreen, bluegreen  # noqa: F401  (fixture)
from tests.servers.matrix import MatrixUser, Synapse, synapse  # noqa: F401  (fixture)


def reactions_on(server: Synapse, reader: MatrixUser, room_id: str, event_id: str, by: str) -> list[str]:
    async def read() -> list[str]:
        client = await client_of(server, reader)
        try:
            response = await client.room_messages(room_id, start="", limit=100)
        finally:
            await client.close()
        return sorted(
            e.source["content"]["m.relates_to"]["key"] for e in response.chunk  # type: ignore[union-attr]
            if e.source.get("type") == "m.reaction" and e.source.get("sender") == by
            and e.source["content"]["m.relates_to"].get("event_id") == event_id
        )  # fmt: skip

    return run(read())


def test_a_mention_in_a_matrix_room_deploys_for_the_owner_only_and_is_answered_there(
    app_client: TestClient, context: AppContext, org_id: int, people: People, tmp_path: Path,
    bluegreen: BlueGreen, synapse: Synapse,  # noqa: F811
) -> None:  # fmt: skip
    owner = people.add()
    bot, ana, mallory = synapse.register("bot"), synapse.register("ana"), synapse.register("mallory")
    stored = app_client.post("/api/v1/vault/secrets", headers=owner.auth,
                             json={"name": "matrix-token", "value": bot.access_token})  # fmt: skip
    assert stored.status_code == 201, stored.text
    add_account(app_client, owner, "work-matrix", "matrix", {
        "homeserver": synapse.url, "user_id": bot.user_id, "access_token": "vault:matrix-token",
        "owner_matrix_user": ana.user_id, "timeout_s": 10})  # fmt: skip
    add_account(app_client, owner, "stage", "deploy",
                deploy_config(bluegreen, tmp_path / "ledger", ["staging"], status=False))  # fmt: skip
    ops = run(room_with_bot(synapse, ana, bot, direct=False, invite=(mallory.user_id,)))
    run(join(synapse, mallory, ops))
    agent_id = from_template(app_client, owner, "deploy-on-request", "deployer", {
        "deploy_account": "stage", "matrix_account": "work-matrix", "services": "web",
        "environments": "staging", "channels": ops, "window_seconds": str(WINDOW_S)})  # fmt: skip
    bluegreen.release("1.4.2")
    wait_heard(context, synapse, ana, ops)
    request = f"{bot.user_id} deploy web 1.4.2 to staging"

    # Mallory may write in the room but may not ask: no run, no reaction, nothing deployed.
    hers = say(synapse, mallory, ops, request)
    time.sleep(2.0)
    assert runs_of(context, agent_id) == []
    assert deploys_in_ledger(tmp_path) == [] and reactions_on(synapse, ana, ops, hers, bot.user_id) == []

    with traffic(bluegreen):
        asked = say(synapse, ana, ops, request)
        found = next_run(context, agent_id, 0)
        assert found.trigger_detail["event"] == "chat.mentioned"
        wait_status(context, found.id, "waiting_approval", timeout=60)
        pending = pending_approval(app_client, owner, found.id)
        assert pending["tool"] == "deploy_start_release" and pending["args"] == {
            "account": "stage", "service": "web", "environment": "staging", "version": "1.4.2"}  # fmt: skip
        assert "outsiders can write (event chat.mentioned, matrix_read_messages)" in pending["reason"]
        dm, prompt = run(find_prompt(synapse, ana, pending["id"]))
        react(synapse, ana, dm, prompt, "👍")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            waiting = app_client.get(f"/api/v1/runs/{found.id}", headers=owner.auth).json()[
                "pending_approvals"
            ]
            if waiting and waiting[0]["tool"] == "matrix_post_message":
                break
            time.sleep(0.3)
        else:
            raise AssertionError("the reply in the room never waited for the owner")
    reply = waiting[0]
    wait_status(context, found.id, "waiting_approval", timeout=30)  # the approval is recorded first
    assert reply["args"]["room"] == ops and reply["args"]["reply_to"] == asked
    assert reply["args"]["text"].startswith(
        f"web 1.4.2 in staging, as {ana.user_id} asked: web 1.4.2 in staging: healthy"
    )
    assert bluegreen.get() == (200, "1.4.2") and deploys_in_ledger(tmp_path) == ["1.4.2"]
    approve(app_client, owner, reply["id"])
    assert wait_final(context, found.id, timeout=60) == "succeeded"
    answers = [m for m in messages(synapse, ana, ops) if m["sender"] == bot.user_id]
    assert [m["content"]["body"] for m in answers] == [reply["args"]["text"]]
    assert answers[0]["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": asked}}
    assert reactions_on(synapse, ana, ops, asked, bot.user_id) == sorted(["🚀", "✅"])
    assert outcomes(context, found.id) == ["approval.granted", "deployment.executed", "deployment.watched"]
    assert [r.id for r in runs_of(context, agent_id)] == [found.id]
