"""Creating an agent from a template in a real headless Chromium against a real server: a person opens
"New agent" from the agents page, finds every built-in template offered with its settings, names an
account that is not theirs and reads the error next to that template, then names their own email
account and lands on the new agent, created from the inbox-triage template with the grants it needs."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect

from meshclaw.agents import store as agents_store
from meshclaw.agents.templates import builtin_templates
from tests.conftest import LiveServer
from tests.web.conftest import PASSWORD, person_in_live_org

pytestmark = pytest.mark.browser

MAIL = {"address": "alice@example.org", "username": "alice", "password": "vault:mail-password",
        "imap_host": "127.0.0.1", "imap_port": 143, "imap_security": "plain",
        "smtp_host": "127.0.0.1", "smtp_port": 25, "smtp_security": "plain"}  # fmt: skip


def test_a_person_creates_the_inbox_triage_agent_from_its_template(
    live_server: LiveServer, browser: Browser
) -> None:
    context, url = live_server.context, live_server.url
    org_id, alice = person_in_live_org(context)
    stored = httpx.post(f"{url}/api/v1/vault/secrets", headers=alice.auth,
                        json={"name": "mail-password", "value": "not-checked-here"})  # fmt: skip
    assert stored.status_code == 201, stored.text
    added = httpx.post(f"{url}/api/v1/accounts", headers=alice.auth,
                       json={"name": "alice-mail", "connector": "email", "config": MAIL})  # fmt: skip
    assert added.status_code == 201, added.text

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(60_000)  # a page of a server in this process, on a machine that may be loaded
    expect.set_options(timeout=30_000)
    refused: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        # Content-Security-Policy violations show up as console errors; none may happen. (The 422 of the
        # refused form and a missing favicon are console errors too, and expected.)
        if message.type == "error" and (
            "Refused" in message.text or "Content Security Policy" in message.text
        ):
            refused.append(message.text)

    page.on("console", watch)
    page.goto(f"{url}/login")
    page.get_by_label("Email").fill(alice.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{url}/org")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Agents").click()
    page.get_by_role("button", name="New agent").click()  # a link styled as a button

    for template in builtin_templates().list():
        heading = page.get_by_role("heading", name=f"From the template “{template.title}”")
        expect(heading).to_be_visible()
    triage = page.locator("article").filter(
        has=page.get_by_role("heading", name="From the template “Inbox triage”")
    )
    expect(triage.get_by_label("Digest schedule")).to_have_value("weekdays 06:30")

    triage.get_by_label("Name").fill("morning-triage")
    triage.get_by_label("Email account").fill("bobs-mail")
    triage.get_by_role("button", name="Create from template").click()
    triage = page.locator("article").filter(
        has=page.get_by_role("heading", name="From the template “Inbox triage”")
    )
    expect(triage.get_by_text("bobs-mail")).to_be_visible()  # the error names the account it cannot use
    with context.db.session() as session:
        assert agents_store.agent_by_name(session, org_id, alice.id, "morning-triage") is None

    triage.get_by_label("Name").fill("morning-triage")
    triage.get_by_label("Email account").fill("alice-mail")
    triage.get_by_label("VIP senders").fill("boss@example.org")
    triage.get_by_role("button", name="Create from template").click()
    expect(page.get_by_role("heading", name="morning-triage", level=1)).to_be_visible()

    with context.db.session() as session:
        agent = agents_store.agent_by_name(session, org_id, alice.id, "morning-triage")
        assert agent is not None and agent.current_version is not None
        spec = agents_store.get_version(session, agent.id, agent.current_version).spec_data
    assert spec["template"] == "inbox-triage"
    granted = {grant["tool"]: grant.get("account") for grant in spec["tools"]}
    assert granted and set(granted.values()) == {"alice-mail"}
    assert "boss@example.org" in str(spec["settings"])
    assert refused == []
