"""Inbox triage with its digest in a chat instead of the inbox: the template given a Matrix account sends
the morning digest to the owner's Matrix DM with the bot (`matrix_notify_owner`, no destination argument),
against Dovecot/Postfix and a real Synapse, through the server and the runs engine, rules only."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.agents.templates import builtin_templates
from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import RunStep
from tests.accounts.test_matrix_approvals import client_of, run
from tests.agents.playbooks.test_inbox_triage import OWNER, add_account, contents, mailbox, run_now, subjects
from tests.conftest import People
from tests.runs.records import save_agent
from tests.servers.mail import MailServer, mail_server  # noqa: F401  (fixture)
from tests.servers.matrix import MatrixUser, Synapse, synapse  # noqa: F401  (fixture)

__all__ = ["mailbox"]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path, database_url=database_url,
                         runs_executor="tests.agents.playbooks.inbox_agent:build")  # fmt: skip


def dm_bodies(server: Synapse, owner: MatrixUser, bot: MatrixUser) -> list[str]:
    """What the bot wrote in the DM it opened with the owner (joined first)."""

    async def read() -> list[str]:
        client = await client_of(server, owner)
        try:
            for _ in range(50):
                synced = await client.sync(timeout=0)
                for room_id in list(synced.rooms.invite):
                    await client.join(room_id)
                for room_id in list(synced.rooms.join):
                    response = await client.room_messages(room_id, start="", limit=20)
                    found = [e.source["content"]["body"] for e in reversed(response.chunk)  # type: ignore[union-attr]
                             if e.source.get("type") == "m.room.message" and e.source.get("sender") == bot.user_id]  # fmt: skip
                    if found:
                        return found
                time.sleep(0.2)
        finally:
            await client.close()
        return []

    return run(read())


def test_the_digest_goes_to_the_owners_matrix_dm(
    app_client: TestClient, context: AppContext, org_id: int, people: People, mailbox: MailServer,
    synapse: Synapse,  # noqa: F811
) -> None:  # fmt: skip
    owner = people.add()
    add_account(app_client, owner, mailbox)
    bot, ana = synapse.register("bot"), synapse.register("ana")
    stored = app_client.post("/api/v1/vault/secrets", headers=owner.auth,
                             json={"name": "matrix-token", "value": bot.access_token})  # fmt: skip
    assert stored.status_code == 201, stored.text
    config = {"homeserver": synapse.url, "user_id": bot.user_id, "access_token": "vault:matrix-token",
              "owner_matrix_user": ana.user_id, "timeout_s": 10}  # fmt: skip
    added = app_client.post("/api/v1/accounts", headers=owner.auth,
                            json={"name": "work-matrix", "connector": "matrix", "config": config})  # fmt: skip
    assert added.status_code == 201, added.text
    spec = builtin_templates().get("inbox-triage").spec("triage", {
        "account": "work-mail", "vip_senders": "alice@example.test", "matrix_account": "work-matrix"})  # fmt: skip
    save_agent(
        context, org_id, owner, "triage", **{**spec.model_dump(mode="json", exclude={"name"}), "triggers": []}
    )

    run_id = run_now(app_client, context, owner)

    (digest,) = dm_bodies(synapse, ana, bot)
    assert digest.startswith("Inbox digest ") and "Urgent (1):" in digest and "Board deck" in digest
    assert subjects(mailbox, "INBOX")["Board deck"] >= {"$Urgent", "\\Flagged"}  # sorted as before
    with context.db.session() as session:
        called = session.scalars(
            select(RunStep.name).where(RunStep.run_id == run_id, RunStep.kind == "tool_call")
        )
        names = list(called)
    assert "matrix_notify_owner" in names and "email_notify_owner" not in names  # not mailed
    time.sleep(1.0)
    inbox_subjects = [str(message["Subject"]) for message, _ in contents(mailbox, OWNER, "INBOX")]
    assert not any(subject.startswith("Inbox digest") for subject in inbox_subjects)
