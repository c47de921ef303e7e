""" "My usage" and the prices page in a real headless Chromium against a real server: the navigation
entry, the chart and tables, and adding a price through the htmx form under the Content-Security-Policy."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect

from meshclaw.identity import store
from meshclaw.identity.passwords import hash_password
from meshclaw.identity.principal import Role
from meshclaw.metering.events import TokenBuckets, UsageEvent
from meshclaw.metering.prices import add_price
from meshclaw.metering.recorder import Recorder
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
SCREENSHOT = "/tmp/web-usage.png"


def test_admin_reads_their_usage_and_adds_a_price(
    live_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    context = live_server.context
    now = context.clock.now()
    with context.db.session() as session:
        org = store.get_org(session)
        assert org is not None
        admin = store.create_user(
            session,
            org_id=org.id,
            email="ada@example.org",
            name="Ada Admin",
            role=Role.ADMIN,
            password_hash=hash_password(PASSWORD),
            now=now,
        )
        add_price(
            session,
            model="gpt-4o",
            input_uncached=2.5,
            output=10,
            effective_from=now - timedelta(days=365),
            created_by_user_id=None,
            now=now,
        )
    # Usage recorded through the real recorder (its own journal; the server's recorder has its own).
    recorder = Recorder(context.db, journal_dir=tmp_path / "test-journal")
    recorder.start()
    for days_ago, tokens in ((0, 1200), (2, 800), (5, 3000)):
        started = now - timedelta(days=days_ago, minutes=5)
        recorder.record_usage(
            UsageEvent(
                source="gateway",
                started_at=started,
                ended_at=started + timedelta(milliseconds=300),
                model="gpt-4o",
                tokens=TokenBuckets(input_uncached=tokens, output=tokens // 4),
                user_id=admin.id,
                client="python-openai",
            )
        )
    recorder.close()

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
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
    try:
        page.goto(f"{live_server.url}/login")
        page.get_by_label("Email").fill("ada@example.org")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(f"{live_server.url}/org")

        page.get_by_role("navigation", name="Main").get_by_role("link", name="My usage").click()
        expect(page.get_by_role("heading", name="My usage", level=1)).to_be_visible()
        expect(page.get_by_role("img", name="Tokens per day")).to_be_visible()
        # Drawn by the vendored Chart.js: a chart instance on the canvas, and painted pixels.
        page.wait_for_function(
            """() => {
              const canvas = document.getElementById("chart-usage-daily");
              if (!canvas || typeof Chart === "undefined" || !Chart.getChart(canvas)) { return false; }
              const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
              return pixels.some((value, index) => index % 4 === 3 && value !== 0);
            }"""
        )
        assert (
            page.evaluate("Chart.getChart(document.getElementById('chart-usage-daily')).data.labels.length")
            == 30
        )
        by_model = page.locator("article", has=page.get_by_role("heading", name="By model"))
        expect(by_model.get_by_role("row", name="gpt-4o")).to_contain_text("3")  # three calls
        expect(page.get_by_text("python-openai").first).to_be_visible()
        page.screenshot(path=SCREENSHOT, full_page=True)

        page.get_by_role("link", name="View and edit prices").click()
        expect(page.get_by_role("heading", name="Model prices")).to_be_visible()
        page.get_by_label("Model").fill("o3")
        page.get_by_label("Input", exact=True).fill("2")
        page.get_by_label("Output", exact=True).fill("8")
        page.get_by_role("button", name="Add price").click()
        expect(page.get_by_text("Price for o3 added; it applies to calls now.")).to_be_visible()
        expect(page.get_by_role("row", name="o3").first).to_contain_text("8")
        page.screenshot(path="/tmp/web-prices.png", full_page=True)
    except Exception:
        page.screenshot(path=SCREENSHOT, full_page=True)
        raise
    assert not refused, refused
