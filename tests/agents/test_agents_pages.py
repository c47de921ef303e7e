"""The /agents pages through the real app (TestClient), signed in by the form: create with the form (a
bad field is shown next to it), paste a definition, start from a template, the detail page with its
versions and diff, the kill switch, CSRF, and editing (what the form does not change stays as it was)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from meshclaw.agents import store
from meshclaw.agents.spec import AgentSpec
from meshclaw.context import AppContext
from meshclaw.identity.principal import Role
from meshclaw.providers.registry import add_provider
from meshclaw.server.app import create_app
from meshclaw.web.render import when
from tests.conftest import People
from tests.runs.records import save_agent
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
        store.save_spec(  # as `meshclaw agents apply` does: nobody signed in
            session, org_id=org_id, owner_user_id=alice.id, created_by_user_id=None, now=context.clock.now(),
            spec=AgentSpec.model_validate({"name": "inbox-bot", "purpose": "sort, label and file mail"}),
        )  # fmt: skip
    detail = client.get(url).text
    assert "version 1" in detail and "version 2" in detail
    # Who saved each version, by email; the CLI's saves as such.
    saved_by = re.findall(r'<th scope="row">(\d+)</th>\s*<td>[^<]*</td>\s*<td>([^<]*)</td>', detail)
    assert saved_by == [("3", "operator (CLI)"), ("2", alice.email), ("1", alice.email)], saved_by
    detail = client.get(f"{url}?old=1&new=2").text
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


class _Form(HTMLParser):
    """What a browser sends for the first form with `action`, left as the page shows it: inputs, ticked
    checkboxes, textareas (their line breaks as CRLF, as browsers send them) and each select's selected
    option (else its first)."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.done = action, False, False
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form" and not self.done:
            self.inside = a.get("action") == self.action
        if not self.inside:
            return
        name = a.get("name", "")
        if tag == "input" and (a.get("type") != "checkbox" or "checked" in a):
            self.fields[name] = a.get("value", "")
        elif tag == "textarea":
            self._textarea, self.fields[name] = name, ""
        elif tag == "select":
            self._select = name
        elif (
            tag == "option"
            and self._select is not None
            and (self._select not in self.fields or "selected" in a)
        ):
            self.fields[self._select] = a.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self.fields[self._textarea] += data.replace("\n", "\r\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None
        elif tag == "form" and self.inside:
            self.inside, self.done = False, True


def _form_on(html: str, action: str) -> dict[str, str]:
    form = _Form(action)
    form.feed(html)
    assert form.done, f"no form posts to {action}"
    return form.fields


def _selected(html: str, name: str) -> str:
    select = re.search(rf'<select name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select {name}"
    chosen = re.findall(r'<option value="([^"]*)" selected>', select.group(1))
    assert len(chosen) == 1, chosen
    return chosen[0]


def test_the_form_creates_an_agent_with_its_approval_and_answer_settings_and_refuses_other_values(
    client: TestClient, web_people: WebPeople, context: AppContext, org_id: int
) -> None:
    alice = web_people.add()
    token = signed_in(client, alice)
    page = client.get("/agents/new").text
    # The spec's defaults are preselected, each choice says what it does.
    assert _selected(page, "unattended_approvals") == "wait" and _selected(page, "tainted_answers") == "clean"
    assert "skip: the call is refused, the run carries on" in page
    assert "Clean: the answer is written again without the mail" in page

    form = {"csrf_token": token, "name": "careful", "purpose": "", "instructions": "", "memory": "on"}
    bad = client.post("/agents/new", data={**form, "unattended_approvals": "skip", "tainted_answers": "raw"})
    assert bad.status_code == 422
    assert 'id="tainted_answers-error">Input should be &#39;clean&#39; or &#39;as_written&#39;' in bad.text
    assert _selected(bad.text, "unattended_approvals") == "skip"  # what was chosen is kept
    with context.db.session() as session:
        assert store.agent_by_name(session, org_id, alice.id, "careful") is None

    made = client.post(
        "/agents/new",
        data={**form, "unattended_approvals": "skip", "tainted_answers": "as_written"},
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text
    with context.db.session() as session:
        agent = store.agent_by_name(session, org_id, alice.id, "careful")
        assert agent is not None and agent.current_version is not None
        spec = store.get_version(session, agent.id, agent.current_version).spec_data
    assert spec["unattended_approvals"] == "skip" and spec["tainted_answers"] == "as_written"


def test_editing_keeps_what_the_form_leaves_untouched_and_saves_nothing_when_a_value_is_bad(
    client: TestClient, web_people: WebPeople, context: AppContext, org_id: int
) -> None:
    alice = web_people.add()
    token = signed_in(client, alice)
    data = {
        "name": "night-watch", "purpose": "watch the night", "instructions": "Line one.\nLine two.",
        "unattended_approvals": "skip", "tainted_answers": "as_written",
        "triggers": [{"cron": "daily 03:00"}], "limits": {"max_tool_calls": 7, "max_cost_usd": 0.005},
        "dreaming": {"at": "04:15"},
    }  # fmt: skip
    with context.db.session() as session:
        agent = store.save_spec(session, org_id=org_id, owner_user_id=alice.id, created_by_user_id=alice.id,
                                spec=AgentSpec.model_validate(data), now=context.clock.now()).agent  # fmt: skip
    url = f"/agents/{agent.id}"
    assert f'href="{url}/edit"' in client.get(url).text
    page = client.get(f"{url}/edit")
    assert page.status_code == 200
    assert _selected(page.text, "unattended_approvals") == "skip"
    assert _selected(page.text, "tainted_answers") == "as_written"

    # Saved as the page shows it: the same definition, no new version.
    shown = _form_on(page.text, f"{url}/edit")
    same = client.post(f"{url}/edit", data=shown, follow_redirects=False)
    assert same.status_code == 303 and same.headers["location"] == f"{url}?notice=unchanged", same.text
    assert "Nothing changed, so no new version was saved." in client.get(same.headers["location"]).text

    # A hand-made POST changes only what it sends; memory, not sent, stays on (else dreaming would refuse).
    sparse = client.post(f"{url}/edit", data={"csrf_token": token, "purpose": "watch the night"},
                         follow_redirects=False)  # fmt: skip
    assert sparse.status_code == 303 and sparse.headers["location"] == f"{url}?notice=unchanged", sparse.text

    # A bad value from a hand-made POST saves nothing, not even the valid change sent with it.
    bad = client.post(
        f"{url}/edit", data={"csrf_token": token, "purpose": "new", "unattended_approvals": "ask"}
    )
    assert bad.status_code == 422
    assert 'id="unattended_approvals-error">Input should be &#39;wait&#39; or &#39;skip&#39;' in bad.text
    assert _selected(bad.text, "tainted_answers") == "as_written"  # the page still shows the rest as saved

    changed = client.post(f"{url}/edit", data={**shown, "purpose": "watch the night, quietly"},
                          follow_redirects=False)  # fmt: skip
    assert changed.headers["location"] == f"{url}?notice=updated", changed.text
    with context.db.session() as session:
        assert [v.number for v in store.list_versions(session, agent.id)] == [2, 1]
        before, after = (store.get_version(session, agent.id, n).spec_data for n in (1, 2))
    assert after == {**before, "purpose": "watch the night, quietly"}
    assert after["instructions"] == "Line one.\nLine two." and after["unattended_approvals"] == "skip"

    # A problem that is no one field's is said in full at the top of the page.
    no_memory = {key: value for key, value in shown.items() if key != "memory"}
    refused = client.post(f"{url}/edit", data=no_memory)
    assert refused.status_code == 422
    assert (
        "Dreaming consolidates the agent&#39;s memory: set memory = true or remove dreaming" in refused.text
    )


def test_a_form_opened_before_someone_else_saved_is_refused_with_what_was_typed_and_who_saved_what(
    client: TestClient, web_people: WebPeople, context: AppContext, org_id: int
) -> None:
    alice, admin = web_people.add(), web_people.add(Role.ADMIN)
    signed_in(client, alice)
    data = {"name": "night-watch", "purpose": "watch the night", "instructions": "Be brief."}
    with context.db.session() as session:
        agent = store.save_spec(session, org_id=org_id, owner_user_id=alice.id, created_by_user_id=alice.id,
                                spec=AgentSpec.model_validate(data), now=context.clock.now()).agent  # fmt: skip
    url = f"/agents/{agent.id}"
    opened = _form_on(client.get(f"{url}/edit").text, f"{url}/edit")
    assert opened["version"] == "1"

    # Meanwhile an admin opens the same form in another browser and saves a new purpose: version 2.
    with TestClient(create_app(context)) as other:
        signed_in(other, admin)
        theirs = _form_on(other.get(f"{url}/edit").text, f"{url}/edit")
        saved = other.post(f"{url}/edit", data={**theirs, "purpose": "watch the night and the day"},
                           follow_redirects=False)  # fmt: skip
        assert saved.headers["location"] == f"{url}?notice=updated", saved.text

    # Alice's form, filled in from version 1, would put the old purpose back: refused, nothing saved.
    mine = {**opened, "instructions": "Be brief and kind."}
    refused = client.post(f"{url}/edit", data=mine, follow_redirects=False)
    assert refused.status_code == 409, refused.text
    with context.db.session() as session:
        versions = store.list_versions(session, agent.id)
    assert [v.number for v in versions] == [2, 1]
    assert versions[0].spec_data["purpose"] == "watch the night and the day"
    message = (
        f"Someone else ({admin.email}) saved version 2 at {when(versions[0].created_at)}, after you opened "
        "this form from version 1. Saving this form would have undone their change, so nothing was saved. "
        "Reload the form to see their change, then make yours again: what you typed is still below."
    )
    assert message in refused.text
    assert f'href="{url}?old=1&amp;new=2"' in refused.text and f'href="{url}/edit"' in refused.text
    shown = _form_on(refused.text, f"{url}/edit")
    assert shown["instructions"] == "Be brief and kind."
    assert shown["purpose"] == "watch the night" and shown["version"] == "1"
    # Saving the page again is refused again (it still says version 1); saved untouched, too.
    assert client.post(f"{url}/edit", data=shown).status_code == 409
    assert client.post(f"{url}/edit", data=opened).status_code == 409

    # Reloaded, the form shows version 2; Alice makes her change again and it keeps the admin's.
    again = _form_on(client.get(f"{url}/edit").text, f"{url}/edit")
    assert again["version"] == "2" and again["purpose"] == "watch the night and the day"
    unchanged = client.post(f"{url}/edit", data=again, follow_redirects=False)
    assert unchanged.headers["location"] == f"{url}?notice=unchanged"
    made = client.post(f"{url}/edit", data={**again, "instructions": "Be brief and kind."},
                       follow_redirects=False)  # fmt: skip
    assert made.headers["location"] == f"{url}?notice=updated", made.text
    with context.db.session() as session:
        latest = store.list_versions(session, agent.id)[0]
    assert latest.number == 3
    assert (latest.spec_data["purpose"], latest.spec_data["instructions"]) == (
        "watch the night and the day",
        "Be brief and kind.",
    )


def test_a_conflict_of_ones_own_two_tabs_says_so(
    client: TestClient, web_people: WebPeople, context: AppContext, org_id: int
) -> None:
    alice = web_people.add()
    signed_in(client, alice)
    with context.db.session() as session:
        agent = store.save_spec(session, org_id=org_id, owner_user_id=alice.id, created_by_user_id=alice.id,
                                spec=AgentSpec(name="tabs"), now=context.clock.now()).agent  # fmt: skip
    url = f"/agents/{agent.id}"
    first, second = (_form_on(client.get(f"{url}/edit").text, f"{url}/edit") for _ in range(2))
    assert (
        client.post(f"{url}/edit", data={**first, "purpose": "one"}, follow_redirects=False).status_code
        == 303
    )
    refused = client.post(f"{url}/edit", data={**second, "purpose": "two"})
    assert refused.status_code == 409
    assert "You saved version 2 at" in refused.text and "would have undone that change" in refused.text
    bad = client.post(f"{url}/edit", data={**second, "version": "latest"})
    assert bad.status_code == 422 and "&#39;latest&#39; is not a version number" in bad.text


def test_the_dreams_hint_fits_the_agents_memory(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople
) -> None:
    """An agent without memory is not told to add a dreaming schedule its definition would refuse."""
    owner = web_people.add()
    remembers = save_agent(context, org_id, owner, "remembers")
    forgets = save_agent(context, org_id, owner, "forgets", memory=False)
    signed_in(client, owner)
    assert 'add <code>dreaming = { at = "03:00" }</code>' in client.get(f"/agents/{remembers}").text
    page = client.get(f"/agents/{forgets}").text
    assert "no memory to consolidate" in page and "add <code>dreaming" not in page
