"""The /agents pages through the real app (TestClient), signed in by the form: create with the form (a
bad field is shown next to it), paste a definition, start from a template, the detail page with its
versions and diff, the kill switch, and CSRF."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from meshclaw.agents import store
from meshclaw.agents.spec import AgentSpec
from meshclaw.context import AppContext
from meshclaw.providers.registry import add_provider
from tests.conftest import People
from tests.web.conftest import WebPeople, csrf_field, signed_in


@pytest.fixture
def web_people(context: AppContext, people: People) -> WebPeople:
    return WebPeople(context, people)


def test_create_with_the_form_then_see_versions_diff_and_disable(
    client: TestClient, web_people: WebPeople, context: AppContext, org_id: int
) -> None:
    alice = web_people.add()
    token = signed_in(client, alice)
    assert 'href="/agents"' in client.get("/org").text
    page = client.get("/agents/new")
    assert page.status_code == 200 and 'name="limits.max_steps"' in page.text

    form = {
        "csrf_token": token,
        "name": "Inbox Bot",
        "purpose": "sort mail",
        "instructions": "",
        "memory": "on",
    }
    bad = client.post("/agents/new", data={**form, "limits.max_steps": "0"})
    assert bad.status_code == 422
    # Each problem next to its field, and the form keeps what was typed.
    assert 'id="name-error">&#39;Inbox Bot&#39; is not an agent name' in bad.text
    assert re.search(r'id="limits-max_steps-error">Input should be greater than or equal to 1', bad.text)
    assert 'value="sort mail"' in bad.text

    made = client.post("/agents/new", data={**form, "name": "inbox-bot"}, follow_redirects=False)
    assert made.status_code == 303, made.text
    url = made.headers["location"].split("?")[0]
    detail = client.get(made.headers["location"])
    assert "Agent created: this is version 1." in detail.text and "<code>inbox-bot</code>" in detail.text
    assert "Changes" not in detail.text  # one version: nothing to compare

    agent_id = int(url.rsplit("/", 1)[1])
    with context.db.session() as session:
        store.save_spec(
            session, org_id=org_id, owner_user_id=alice.id, created_by_user_id=alice.id, now=context.clock.now(),
            spec=AgentSpec.model_validate({"name": "inbox-bot", "purpose": "sort and label mail"}),
        )  # fmt: skip
    detail = client.get(url).text
    assert "version 1" in detail and "version 2" in detail
    assert '<span class="diff-del">-  &#34;purpose&#34;: &#34;sort mail&#34;,</span>' in detail
    assert '<span class="diff-add">+  &#34;purpose&#34;: &#34;sort and label mail&#34;,</span>' in detail

    assert client.post(f"{url}/disable", data={}, follow_redirects=False).status_code == 403  # no CSRF token
    off = client.post(f"{url}/disable", data={"csrf_token": token}, follow_redirects=False)
    assert off.status_code == 303
    assert "disabled: starts no run" in client.get(off.headers["location"]).text
    with context.db.session() as session:
        assert store.get_agent(session, org_id, agent_id).enabled is False
    listing = client.get("/agents").text
    assert "<code>inbox-bot</code>" in listing and ">disabled<" in listing


def test_paste_a_definition_and_start_from_a_template(
    client: TestClient, web_people: WebPeople, context: AppContext
) -> None:
    with context.db.session() as session:
        add_provider(
            session, name="local", kind="openai-compatible", base_url="http://127.0.0.1:9/v1", api_key_env=None,
            models=["m1"], now=context.clock.now(),
        )  # fmt: skip
    signed_in(client, web_people.add())
    token = csrf_field(client.get("/agents/new").text)
    bad = client.post(
        "/agents/new/text", data={"csrf_token": token, "format": "yaml", "text": "name: a\nmodle: x\n"}
    )
    assert bad.status_code == 422
    assert "modle: unknown field" in bad.text and "name: a\nmodle: x" in bad.text
    pasted = client.post(
        "/agents/new/text",
        data={"csrf_token": token, "format": "toml", "text": 'name = "pasted"\n[model]\nname = "m1"\n'},
        follow_redirects=False,
    )
    assert pasted.status_code == 303, pasted.text
    assert "<code>m1</code>" in client.get(pasted.headers["location"]).text
    made = client.post(
        "/agents/new/template",
        data={"csrf_token": token, "template": "assistant", "name": "helper", "setting.model": "m1"},
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    assert "&#34;template&#34;: &#34;assistant&#34;" in client.get(made.headers["location"]).text


def test_the_agent_page_shows_its_dream_diary_to_who_may_read_its_memory(
    client: TestClient, web_people: WebPeople, people: People, context: AppContext, org_id: int
) -> None:
    from datetime import timedelta

    from meshclaw.agents.memory.dreaming import apply, plan, rule_merge
    from meshclaw.agents.memory.store import remember
    from meshclaw.identity.principal import Role

    team = people.team("ops")
    alice = web_people.add(team_id=team)
    with context.db.session() as session:
        agent = store.save_spec(session, org_id=org_id, owner_user_id=alice.id, created_by_user_id=alice.id,
                                spec=AgentSpec.model_validate({"name": "dreamer", "dreaming": {"at": "04:15"}}),
                                now=context.clock.now()).agent  # fmt: skip
        now = context.clock.now()
        for hours, text in ((3, "Backups run at 02:00 on the nas"), (1, "The nas backups run at 02:00")):
            remember(session, agent_id=agent.id, content=text, origin="trusted", source="tool",
                     now=now - timedelta(hours=hours))  # fmt: skip
        night = plan(session, agent_id=agent.id, now=now, max_drop_share=0.1)
        apply(session, plan=night, merged=[rule_merge(g) for g in night.groups], tokens=0, now=now)
    signed_in(client, alice)
    page = client.get(f"/agents/{agent.id}")
    assert page.status_code == 200 and 'id="dreams"' in page.text
    assert "nightly at 04:15 UTC" in page.text and "2 merged, 0 dropped" in page.text
    assert "I merged 2 near-duplicates into 1 memory" in page.text

    client.cookies.clear()
    signed_in(client, web_people.add(Role.AUDITOR))
    assert "I merged" in client.get(f"/agents/{agent.id}").text
    # Her manager may see the agent but not its memory, which the diary quotes.
    client.cookies.clear()
    signed_in(client, web_people.add(Role.MANAGER, team_id=team))
    seen = client.get(f"/agents/{agent.id}")
    assert seen.status_code == 200 and "dreamer" in seen.text and 'id="dreams"' not in seen.text
