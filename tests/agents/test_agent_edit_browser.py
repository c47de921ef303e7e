"""Editing an agent in a real headless Chromium against a real server: the owner opens "Edit" on an agent
whose file set both answer settings away from their defaults (and holds what the form does not show), saves
it untouched and gets no new version, then changes one setting and gets a version with only that changed.
The browser sends the instructions' line breaks as CRLF and checks the number inputs' steps, as people's
do."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from meshclaw.agents import store as agents_store
from meshclaw.agents.spec import AgentSpec
from tests.conftest import LiveServer
from tests.web.conftest import PASSWORD, person_in_live_org

pytestmark = pytest.mark.browser

DEFINITION = {
    "name": "night-watch", "purpose": "watch the night", "instructions": "Line one.\nLine two.",
    "unattended_approvals": "skip", "tainted_answers": "as_written", "triggers": [{"cron": "daily 03:00"}],
    "limits": {"max_tool_calls": 7, "max_cost_usd": 0.005},
}  # fmt: skip


def test_an_owner_saves_the_edit_form_untouched_then_changes_one_setting(
    live_server: LiveServer, browser: Browser
) -> None:
    context, url = live_server.context, live_server.url
    org_id, alice = person_in_live_org(context)
    with context.db.session() as session:
        agent = agents_store.save_spec(session, org_id=org_id, owner_user_id=alice.id, now=context.clock.now(),
                                       created_by_user_id=alice.id, spec=AgentSpec.model_validate(DEFINITION)).agent  # fmt: skip

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(60_000)  # a page of a server in this process, on a machine that may be loaded
    expect.set_options(timeout=30_000)
    page.goto(f"{url}/login")
    page.get_by_label("Email").fill(alice.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{url}/org")
    page.goto(f"{url}/agents/{agent.id}")
    page.get_by_role("button", name="Edit").click()  # a link styled as a button
    expect(page).to_have_url(f"{url}/agents/{agent.id}/edit")

    approvals = page.get_by_label("When a call needs approval and nobody is watching")
    answers = page.get_by_label("Answers of runs that read outsiders' text")
    expect(approvals).to_have_value("skip")
    expect(answers).to_have_value("as_written")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Nothing changed, so no new version was saved.")).to_be_visible()

    page.get_by_role("button", name="Edit").click()
    answers.select_option("clean")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved as a new version.")).to_be_visible()
    with context.db.session() as session:
        assert [v.number for v in agents_store.list_versions(session, agent.id)] == [2, 1]
        before, after = (agents_store.get_version(session, agent.id, n).spec_data for n in (1, 2))
    assert after == {**before, "tainted_answers": "clean"}
