"""The approvals inbox in a real headless Chromium against a real server: the navigation counts what
waits, the page shows the exact action with markup from the agent as inert text (no image element, no
link to it), and the Approve button lets the run carry on with exactly those arguments."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer
from tests.runs.approval_agent import DEPLOY, LONG, deploys
from tests.runs.records import save_agent, wait_final, wait_status
from tests.web.conftest import PASSWORD, person_in_live_org

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server_settings() -> dict[str, Any]:
    return {"runs_executor": "tests.runs.approval_agent:build"}


def test_approve_from_the_inbox_in_a_browser(live_server: LiveServer, browser: Browser) -> None:
    context, url = live_server.context, live_server.url
    org_id, alice = person_in_live_org(context)
    save_agent(context, org_id, alice, "deployer", model={"name": "scripted"}, tools=[{"tool": DEPLOY}])
    started = httpx.post(
        f"{url}/api/v1/runs", json={"agent": "deployer", "input": "long"}, headers=alice.auth
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    wait_status(context, run_id, "waiting_approval", timeout=60)

    page = browser.new_context().new_page()
    page.set_default_timeout(20_000)
    expect.set_options(timeout=15_000)
    page.goto(f"{url}/login")
    page.get_by_label("Email").fill(alice.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{url}/org")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.locator("#approvals-pending")).to_have_text("1")
    nav.get_by_role("link", name="Approvals").click()

    approval = page.locator("article.approval")
    expect(approval.get_by_text(LONG["environment"], exact=True)).to_be_visible()
    expect(page.locator("main img")).to_have_count(0)
    expect(page.locator('main a[href^="https://evil.test"]')).to_have_count(0)
    approval.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_text("Approved: the run carries on with this call.")).to_be_visible()
    expect(page.get_by_text("Nothing waits for your approval.")).to_be_visible()
    page.context.close()

    assert wait_final(context, run_id, timeout=60) == "succeeded"
    assert deploys(context.settings.data_dir) == [LONG]
