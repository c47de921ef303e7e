"""The web UI in a real headless Chromium against a real server: the first admin's whole first session,
then a member who must not see the admin pages. Also proves htmx runs under our Content-Security-Policy
(the success messages below only exist in htmx's partial answers)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from meshclaw.identity import store
from meshclaw.identity.authenticate import end_all_sessions
from meshclaw.identity.bootstrap import bootstrap
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
SCREENSHOT = "/tmp/web-teams.png"


def _sign_in(page: Page, url: str, email: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{url}/org")


def _sign_out(page: Page, url: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{url}/login?notice=signed-out")
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def test_first_admin_session_and_a_member_without_admin_pages(
    live_server: LiveServer, browser: Browser
) -> None:
    context = live_server.context
    url = live_server.url
    with context.db.session() as session:
        token = bootstrap(session, org_name="Test Org", token_ttl=timedelta(hours=1), now=context.clock.now())
    assert token.setup_token is not None

    browser_context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = browser_context.new_page()
    # Generous waits: the machine is shared and every sign-in spends real argon2 time.
    page.set_default_timeout(20_000)
    expect.set_options(timeout=15_000)
    refused: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        # Content-Security-Policy violations show up as console errors; none may happen.
        if message.type == "error" and (
            "Refused" in message.text or "Content Security Policy" in message.text
        ):
            refused.append(message.text)

    page.on("console", watch)
    # Nothing a page loads is missing: the browser's own request for an icon 404ed on every page (which
    # Chromium reports only as this console error, not as a response a page handler sees).
    missing: list[str] = []
    page.on("console", lambda m: missing.append(m.text) if "status of 404" in m.text else None)
    try:
        # The one-time setup link creates the first admin.
        page.goto(f"{url}/setup/{token.setup_token}")
        page.get_by_label("Your email").fill("admin@example.org")
        page.get_by_label("Your name").fill("Ada Admin")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Password again").fill(PASSWORD)
        page.get_by_role("button", name="Create admin account").click()
        expect(page.get_by_text("Your admin account is ready.")).to_be_visible()

        _sign_in(page, url, "admin@example.org")
        expect(page.get_by_role("heading", name="Test Org")).to_be_visible()
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="People")).to_be_visible()
        expect(nav.get_by_text("Ada Admin")).to_be_visible()
        # An admin's links and the account's buttons fit a laptop's window whole: they wrap, not overflow.
        for item in (
            nav.get_by_role("link", name="Kill switches"),
            nav.get_by_role("button", name="Sign out"),
        ):
            expect(item).to_be_in_viewport(ratio=1)

        # A team and a sub-team.
        nav.get_by_role("link", name="Teams").click()
        new_team = page.locator("aside form")
        new_team.get_by_label("Name").fill("Engineering")
        new_team.get_by_role("button", name="Create team").click()
        expect(page.get_by_text("Team 'Engineering' created.")).to_be_visible()
        new_team = page.locator("aside form")
        new_team.get_by_label("Name").fill("Platform")
        new_team.get_by_label("Parent team").select_option(label="Engineering")
        new_team.get_by_role("button", name="Create team").click()
        expect(page.get_by_text("Team 'Platform' created.")).to_be_visible()
        new_team = page.locator("aside form")
        new_team.get_by_label("Name").fill("Sales")
        new_team.get_by_role("button", name="Create team").click()
        expect(page.get_by_text("Team 'Sales' created.")).to_be_visible()
        expect(page).to_have_url(f"{url}/teams")
        sub_team = page.locator(".tree > li", has_text="Engineering").locator("ul .team-name")
        expect(sub_team).to_have_text("Platform")
        page.screenshot(path=SCREENSHOT, full_page=True)

        # Two people in the sub-team; one of them becomes a manager.
        nav.get_by_role("link", name="People").click()
        for email, name in (("grace@example.org", "Grace Hopper"), ("alan@example.org", "Alan Member")):
            page.get_by_text("Add a person").click()
            form = page.locator("#users-panel form[hx-post='/users']")
            form.get_by_label("Email", exact=True).fill(email)
            form.get_by_label("Name", exact=True).fill(name)
            form.get_by_label("Team").select_option(label="Platform")
            form.get_by_label("Initial password").fill(PASSWORD)
            form.get_by_role("button", name="Add person").click()
            expect(page.get_by_text(f"Added {email}.")).to_be_visible()
        page.get_by_label("Team").first.select_option(label="Platform")
        expect(page).to_have_url(re.compile(r"/users\?team_id=\d+"))
        expect(page.get_by_text("2 people")).to_be_visible()
        page.get_by_role("link", name="Grace Hopper").click()
        page.get_by_label("Role").select_option("manager")
        page.get_by_role("button", name="Save changes").click()
        expect(page.get_by_text("Changes saved.")).to_be_visible()
        with context.db.session() as session:
            org = store.get_org(session)
            assert org is not None
            grace = store.user_by_email(session, org.id, "grace@example.org")
            assert grace is not None and grace.role == "manager"
            grace_id = grace.id

        # An API key: its secret is shown once, then only its prefix.
        nav.get_by_role("link", name="API keys").click()
        page.get_by_label("Name").fill("laptop")
        page.get_by_role("button", name="Create key").click()
        secret = page.locator("#new-secret")
        expect(secret).to_have_text(re.compile(r"^mc_[0-9a-f]{8}_\S+$"))
        shown = secret.inner_text()
        page.reload()
        expect(page.get_by_role("cell", name="laptop")).to_be_visible()
        assert shown not in page.content()
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Revoke").click()
        expect(page.get_by_text("Key 'laptop' revoked; it stops working now.")).to_be_visible()

        _sign_out(page, url)

        # A member sees no admin navigation and gets refused at the admin pages.
        _sign_in(page, url, "alan@example.org")
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="People")).to_have_count(0)
        expect(nav.get_by_role("link", name="API keys")).to_be_visible()
        nav.get_by_role("link", name="Teams").click()
        expect(page.get_by_text("Platform")).to_be_visible()
        expect(page.get_by_role("button", name="Create team")).to_have_count(0)
        expect(page.get_by_text("Edit")).to_have_count(0)
        for path in ("/users", f"/users/{grace_id}"):
            answer = page.goto(f"{url}{path}")
            assert answer is not None and answer.status == 403
            expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        page.goto(f"{url}/account")
        expect(page.get_by_label("Display name")).to_have_value("Alan Member")

        # The session ends on the server while the page is open: the next htmx action goes to sign-in.
        with context.db.session() as session:
            alan = store.user_by_email(session, org.id, "alan@example.org")
            assert alan is not None
            end_all_sessions(session, alan.id)
        page.get_by_role("button", name="Save name").click()
        expect(page).to_have_url(f"{url}/login?next=/account")
        _sign_in(page, url, "alan@example.org")

        # Changing the password renews the session; the page that follows must keep working.
        page.goto(f"{url}/account")
        page.get_by_label("Current password").fill(PASSWORD)
        page.get_by_label("New password", exact=True).fill("another long passphrase")
        page.get_by_label("New password again").fill("another long passphrase")
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_text("Password changed; your other browsers are signed out.")).to_be_visible()
        page.get_by_label("Display name").fill("Alan Turing")
        page.get_by_role("button", name="Save name").click()
        expect(page.get_by_text("Name saved.")).to_be_visible()
        expect(page.get_by_role("navigation", name="Main").get_by_text("Alan Turing")).to_be_visible()
        _sign_out(page, url)
    except Exception:
        page.screenshot(path="/tmp/web-browser-failure.png", full_page=True)
        raise
    finally:
        browser_context.close()
    assert refused == []
    assert missing == []
