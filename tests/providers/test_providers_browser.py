"""The providers page in a real headless Chromium against a real server: an admin follows the navigation
entry, adds a provider through the htmx form under the Content-Security-Policy, disables it, and no
response the browser receives contains the key's value."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Response, expect

from meshclaw.identity import store
from meshclaw.identity.passwords import hash_password
from meshclaw.identity.principal import Role
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
SECRET = "sk-browser-NEVER-SHOWN-31337"
SCREENSHOT = "/tmp/web-providers.png"


def test_admin_adds_a_provider_through_the_form(
    live_server: LiveServer, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server runs in this process, so this is the server's environment.
    monkeypatch.setenv("MC_TEST_BROWSER_KEY", SECRET)
    context = live_server.context
    with context.db.session() as session:
        org = store.get_org(session)
        assert org is not None
        store.create_user(
            session,
            org_id=org.id,
            email="ada@example.org",
            name="Ada Admin",
            role=Role.ADMIN,
            password_hash=hash_password(PASSWORD),
            now=context.clock.now(),
        )

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    expect.set_options(timeout=15_000)
    refused: list[str] = []
    leaked: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        # Content-Security-Policy violations show up as console errors; none may happen.
        if message.type == "error" and (
            "Refused" in message.text or "Content Security Policy" in message.text
        ):
            refused.append(message.text)

    def inspect(response: Response) -> None:
        try:
            body = response.body()
        except Exception:  # redirects have no body to read
            return
        if SECRET.encode() in body:
            leaked.append(response.url)

    page.on("console", watch)
    page.on("response", inspect)
    try:
        page.goto(f"{live_server.url}/login")
        page.get_by_label("Email").fill("ada@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{live_server.url}/org")

        page.get_by_role("navigation", name="Main").get_by_role("link", name="Providers").click()
        expect(page.get_by_role("heading", name="Model providers", level=1)).to_be_visible()
        expect(page.get_by_text("No providers yet")).to_be_visible()

        page.get_by_label(re.compile(r"^Name")).fill("openai")
        page.get_by_label("Kind").select_option("openai")
        page.get_by_label("Base URL").fill("https://api.openai.com/v1")
        page.get_by_label("Key variable").fill("MC_TEST_BROWSER_KEY")
        page.get_by_label("Models").fill("gpt-4o, gpt-4o-mini")
        page.get_by_role("button", name="Add provider").click()
        expect(page.get_by_text("Provider openai added; its models route to it now.")).to_be_visible()
        row = page.get_by_role("row", name="openai")
        expect(row).to_contain_text("MC_TEST_BROWSER_KEY")
        expect(row).to_contain_text("set")
        expect(row).to_contain_text("gpt-4o-mini")
        expect(row).to_contain_text("enabled")
        # htmx swapped the panel: the address is still the page's, no full reload happened.
        expect(page).to_have_url(f"{live_server.url}/providers")
        page.screenshot(path=SCREENSHOT, full_page=True)

        page.get_by_role("button", name="Disable openai").click()
        expect(page.get_by_text("Provider openai disabled.")).to_be_visible()
        expect(page.get_by_role("button", name="Enable openai")).to_be_visible()
    except Exception:
        page.screenshot(path=SCREENSHOT, full_page=True)
        raise
    assert not refused, refused
    assert not leaked, leaked
