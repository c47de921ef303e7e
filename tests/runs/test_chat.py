"""Chat with your agent: each message is an attended run whose reply appears on the page; the next message
carries the conversation so far; an empty message is refused; nobody else can read or write the chat."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.context import AppContext
from meshclaw.db.models import Run
from tests.conftest import People
from tests.runs.records import save_agent, wait_final
from tests.web.conftest import WebPeople, signed_in


def _latest_chat_run(context: AppContext, agent_id: int) -> Run:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with context.db.session() as session:
            run = session.scalars(
                select(Run)
                .where(Run.agent_id == agent_id, Run.trigger_kind == "chat")
                .order_by(Run.created_at.desc())
            ).first()
            if run is not None:
                session.expunge(run)
                return run
        time.sleep(0.05)
    raise AssertionError("no chat run was started")


def test_messages_are_runs_with_context_and_only_the_owner_chats(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    web_people = WebPeople(context, people)
    alice, bob = web_people.add(), web_people.add()
    mine = save_agent(context, org_id, alice, "helper", settings={"echo": True})
    token = signed_in(app_client, alice)

    assert "talk with it" in app_client.get(f"/agents/{mine}").text
    page = app_client.get(f"/agents/{mine}/chat")
    assert page.status_code == 200 and "No messages yet." in page.text

    sent = app_client.post(f"/agents/{mine}/chat", data={"csrf_token": token, "message": " hello there "},
                           follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303
    first = _latest_chat_run(context, mine)
    assert first.mode == "attended" and first.trigger_detail == {"message": "hello there"}
    assert wait_final(context, first.id) == "succeeded"
    page = app_client.get(f"/agents/{mine}/chat").text
    assert "hello there" in page and "echo: hello there" in page and 'hx-trigger="every 1s"' not in page

    app_client.post(f"/agents/{mine}/chat", data={"csrf_token": token, "message": "and now?"})
    second = _latest_chat_run(context, mine)
    assert second.id != first.id and wait_final(context, second.id) == "succeeded"
    panel = app_client.get(f"/agents/{mine}/chat/turns/{second.id}")
    assert panel.status_code == 200
    assert (
        "Person: hello there" in panel.text
        and "You: echo: hello there" in panel.text
        and "and now?" in panel.text
    )

    empty = app_client.post(f"/agents/{mine}/chat", data={"csrf_token": token, "message": "   "})
    assert empty.status_code == 422 and "write a message first" in empty.text
    assert _latest_chat_run(context, mine).id == second.id  # nothing was started

    other = save_agent(context, org_id, alice, "other", settings={"echo": True})
    assert app_client.get(f"/agents/{other}/chat/turns/{second.id}").status_code == 404

    app_client.cookies.clear()
    signed_in(app_client, bob)
    assert app_client.get(f"/agents/{mine}/chat").status_code in (403, 404)
    assert app_client.get(f"/agents/{mine}/chat/turns/{second.id}").status_code in (403, 404)
