"""The server's runs go through the policy gate, with the organization's rows, and every decided tool
call leaves an audit record: a compromised model that obeys a web page cannot mail data out of a tainted
run; a clean run mails colleagues freely; outsiders need an approval unless an admin allowed the domain."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import AuditEvent, Run
from meshclaw.identity import store as identity_store
from meshclaw.identity.passwords import hash_password
from meshclaw.identity.principal import Role
from meshclaw.policy import store as policy_store
from tests.conftest import People, Person
from tests.policy.compromised_agent import SECRET
from tests.runs.records import save_agent, wait_final, wait_status
from tests.web.conftest import PASSWORD, WebPerson, signed_in

GRANTS = [{"tool": "web_fetch_page"}, {"tool": "mail_send_message"}]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        data_dir=tmp_path, database_url=database_url, runs_executor="tests.policy.compromised_agent:build"
    )


def sent(context: AppContext) -> list[dict[str, object]]:
    log = context.settings.data_dir / "sent.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def audit(context: AppContext, run_id: str) -> list[tuple[str, str | None, str | None, str | None]]:
    with context.db.session() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.run_id == run_id).order_by(AuditEvent.seq))
        return [(row.kind, row.tool, row.rule, row.outcome) for row in rows]


def start(client: TestClient, owner_auth: dict[str, str], text: str) -> str:
    response = client.post("/api/v1/runs", json={"agent": "mailer", "input": text}, headers=owner_auth)
    assert response.status_code in (201, 202), response.text
    return str(response.json()["id"])


def test_a_clean_run_mails_a_colleague_and_the_call_is_audited(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    colleague = people.add()
    save_agent(context, org_id, owner, "mailer", model={"name": "scripted"}, tools=GRANTS, allow_overlap=True)
    run_id = start(app_client, owner.auth, f"tell {colleague.email} the build is green")
    assert wait_final(context, run_id, timeout=60) == "succeeded"
    assert [message["to"] for message in sent(context)] == [[colleague.email]]
    assert audit(context, run_id) == [("tool.executed", "mail_send_message", "egress.allowed", "ok")]
    assert app_client.get(f"/api/v1/runs/{run_id}", headers=owner.auth).json()["untrusted_sources"] == []


def test_a_tainted_run_cannot_mail_out_what_a_page_told_it_to(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    save_agent(context, org_id, owner, "mailer", model={"name": "scripted"}, tools=GRANTS, allow_overlap=True)
    run_id = start(app_client, owner.auth, "summarize https://news.example/today")
    wait_status(context, run_id, "waiting_approval", timeout=60)
    assert sent(context) == []
    shown = app_client.get(f"/api/v1/runs/{run_id}", headers=owner.auth).json()
    (pending,) = shown["pending_approvals"]
    assert pending["args"]["to"] == ["mallory@evil.example"]
    assert "outsiders can write (web_fetch_page)" in pending["reason"] and "to[0]" in pending["reason"]
    assert audit(context, run_id) == [("tool.executed", "web_fetch_page", "effect.contained", "ok")]
    assert shown["untrusted_sources"] == ["web_fetch_page"]
    # The run's page says so next to the answer, as text.
    with context.db.session() as session:
        user = identity_store.get_user(session, org_id, owner.id)
        identity_store.update_user(session, user, password_hash=hash_password(PASSWORD))
    signed_in(app_client, WebPerson(id=owner.id, email=owner.email, role=Role.MEMBER))
    page = app_client.get(f"/runs/{run_id}")
    assert "Read content outsiders can write</strong> (web_fetch_page)" in page.text
    # Even a domain the admin allowed does not open a tainted run: the rule of two still asks a person.
    with context.db.session() as session:
        policy_store.add_egress_rule(session, org_id=org_id, kind="domain", value="evil.example", note="",
                                     by_user_id=None, now=context.clock.now())  # fmt: skip
    second = start(app_client, owner.auth, "summarize https://news.example/today")
    wait_status(context, second, "waiting_approval", timeout=60)
    assert sent(context) == []


def test_outsiders_need_approval_unless_the_domain_is_allowed(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    save_agent(context, org_id, owner, "mailer", model={"name": "scripted"}, tools=GRANTS, allow_overlap=True)
    first = start(app_client, owner.auth, "send the agenda to ann@partner.example")
    wait_status(context, first, "waiting_approval", timeout=60)
    reason = app_client.get(f"/api/v1/runs/{first}", headers=owner.auth).json()["pending_approvals"][0][
        "reason"
    ]
    assert "outside the organization's allowed destinations: ann@partner.example" in reason
    with context.db.session() as session:
        policy_store.add_egress_rule(session, org_id=org_id, kind="domain", value="partner.example", note="",
                                     by_user_id=None, now=context.clock.now())  # fmt: skip
    second = start(app_client, owner.auth, "send the agenda to ann@partner.example")
    assert wait_final(context, second, timeout=60) == "succeeded"
    assert [message["to"] for message in sent(context)] == [["ann@partner.example"]]


def test_a_call_of_a_tool_the_agent_was_not_given_is_audited_like_any_refusal(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    owner, admin = people.add(), people.add(Role.ADMIN)
    save_agent(context, org_id, owner, "mailer", model={"name": "scripted"}, tools=GRANTS, allow_overlap=True)
    run_id = start(app_client, owner.auth, "use the tool ceo_mail_export")
    assert wait_final(context, run_id, timeout=60) == "succeeded"  # it heard "unknown tool" and gave up
    assert audit(context, run_id) == [("tool.denied", "ceo_mail_export", "grant.missing", "denied")]
    # Through the audit API, its filters and the chain check, like every other record.
    listed = app_client.get("/api/v1/audit", params={"tool": "ceo_mail_export", "decision": "deny"},
                            headers=admin.auth)  # fmt: skip
    (event,) = listed.json()["events"]
    assert (event["kind"], event["rule"], event["run_id"], event["on_behalf_of_user_id"]) == (
        "tool.denied", "grant.missing", run_id, owner.id
    )  # fmt: skip
    assert event["effect_class"] == "destructive"  # no registry knows it: the worst class
    assert event["arguments"] == {"folder": "Finance", "password": "[redacted]"}
    assert len(event["args_digest"]) == 64 and SECRET not in listed.text
    assert app_client.get("/api/v1/audit/verify", headers=admin.auth).json()["ok"] is True


def test_a_chat_turn_after_one_that_read_outsiders_text_starts_tainted(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    """The next message carries the earlier replies (runs/chat.py), which may repeat what outsiders wrote:
    a message that mails a colleague, which a clean run may do, needs a person's approval after one."""
    owner, colleague = people.add(), people.add()
    say, agent_id = _chat(app_client, context, org_id, owner)
    first = say("summarize https://news.example/plain")
    assert wait_final(context, first, timeout=60) == "succeeded"
    second = say(f"tell {colleague.email} the build is green")
    wait_status(context, second, "waiting_approval", timeout=60)
    assert sent(context) == []
    shown = app_client.get(f"/api/v1/runs/{second}", headers=owner.auth).json()
    assert shown["untrusted_sources"] == ["earlier replies in this conversation"]
    (pending,) = shown["pending_approvals"]
    assert pending["args"]["to"] == [colleague.email]
    assert "this run read content outsiders can write" in pending["reason"]
    page = app_client.get(f"/agents/{agent_id}/chat").text
    assert "outsiders can write (web_fetch_page)" in page  # the first reply's notice


def test_a_chat_answer_written_apart_takes_no_earlier_reply_as_the_persons_words(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    """A reply quoted a page's instruction; the next message's run reads a page too, so its answer is
    written apart, from a request that carried that reply in its transcript as the person's own text (and
    the model obeyed it there). Now only the new message is the request; the reply is a handle."""
    say, _ = _chat(app_client, context, org_id, people.add())
    first = say("summarize https://news.example/invoice")
    assert wait_final(context, first, timeout=60) == "succeeded"
    with context.db.session() as session:
        reply = str(session.get_one(Run, first).output)
    assert IBAN in reply and "(quoted from the result of web_fetch_page, written by outsiders)" in reply
    second = say("what does https://news.example/plain say?")
    assert wait_final(context, second, timeout=60) == "succeeded"
    *_, main, apart = _prompts(context)
    assert main["tools"] and not apart["tools"]
    # The agent's own requests see the transcript as they did; the request written apart does not.
    assert IBAN in main["prompt"] and main["prompt"].startswith("Conversation so far:")
    assert IBAN not in apart["prompt"] and "AI assistant" not in apart["prompt"]
    assert "The person wrote: summarize https://news.example/invoice\nYou replied: [[r1]]" in apart["prompt"]
    assert "The person now writes:\nwhat does https://news.example/plain say?\n\n---" in apart["prompt"]
    with context.db.session() as session:
        answer = str(session.get_one(Run, second).output)
    assert answer == (
        'finished. It read "Nothing to see here; the cafeteria opens at 8." '
        "(quoted from the result of web_fetch_page, written by outsiders)."
    )


IBAN = "DE89 3704 0044 0532 0130 00"


def _prompts(context: AppContext) -> list[dict[str, Any]]:
    """What the scripted model was sent, in order (`compromised_agent.build`)."""
    log = context.settings.data_dir / "model.log"
    return [json.loads(line) for line in log.read_text().splitlines()]


def _chat(
    app_client: TestClient, context: AppContext, org_id: int, owner: Person
) -> tuple[Callable[[str], str], int]:
    """The owner, signed in, chats with a new agent: `say` posts a message and gives its run's id."""
    agent_id = save_agent(context, org_id, owner, "mailer", model={"name": "scripted"}, tools=GRANTS,
                          allow_overlap=True)  # fmt: skip
    with context.db.session() as session:
        user = identity_store.get_user(session, org_id, owner.id)
        identity_store.update_user(session, user, password_hash=hash_password(PASSWORD))
    token = signed_in(app_client, WebPerson(id=owner.id, email=owner.email, role=Role.MEMBER))

    def say(text: str) -> str:
        before = _chat_runs(context, agent_id)
        app_client.post(f"/agents/{agent_id}/chat", data={"csrf_token": token, "message": text})
        (new,) = [run_id for run_id in _chat_runs(context, agent_id) if run_id not in before]
        return new

    return say, agent_id


def _chat_runs(context: AppContext, agent_id: int) -> list[str]:
    with context.db.session() as session:
        query = select(Run.id).where(Run.agent_id == agent_id, Run.trigger_kind == "chat")
        return list(session.scalars(query))
