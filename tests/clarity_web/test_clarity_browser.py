"""The Clarity dashboard in Debian's headless Chromium against a real server: a member, a manager and
an admin sign in, see what their role allows and are refused the rest, the charts are drawn by the
vendored Chart.js (a Chart instance on a canvas with painted pixels), an admin opens a flag's row and
reviews it in place, and no Content-Security-Policy violation happens on the way."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from meshclaw.identity.principal import Role
from meshclaw.metering.recorder import Recorder
from tests.clarity import cast
from tests.clarity.conftest import WEEK, World
from tests.clarity_web.conftest import RANGE, give_passwords
from tests.conftest import LiveServer, People, Person
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.browser

SCREENSHOT = "/tmp/web-clarity.png"

CHART_PAINTED = """(id) => {
  const canvas = document.getElementById(id);
  if (!canvas || typeof Chart === "undefined" || !Chart.getChart(canvas)) { return false; }
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] !== 0) { return true; } }
  return false;
}"""


def _sign_in(browser: Browser, url: str, person: Person, refused: list[str]) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(30_000)

    def watch(message: ConsoleMessage) -> None:
        if message.type == "error" and (
            "Refused" in message.text or "Content Security Policy" in message.text
        ):
            refused.append(message.text)

    page.on("console", watch)
    page.goto(f"{url}/login")
    page.get_by_label("Email").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{url}/org")
    return page


def test_member_manager_and_admin_see_what_their_role_allows(
    live_server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    expect.set_options(timeout=30_000)
    context = live_server.context
    with context.db.session() as session:
        from meshclaw.identity import store

        org = store.get_org(session)
        assert org is not None
        org_id = org.id
    people = People(context, org_id)
    recorder = Recorder(context.db, journal_dir=tmp_path / "test-journal")
    recorder.start()
    world = World(context, people, recorder)
    big, small = people.team("Big"), people.team("Small")
    admin = world.person("admin@example.org", role=Role.ADMIN, team_id=None)
    manager = world.person("big-manager@example.org", role=Role.MANAGER, team_id=big)
    member = world.person("big-member@example.org", team_id=big)
    grinder = world.person("grinder@example.org", team_id=big)
    small_member = world.person("small-member@example.org", team_id=small)
    others = [world.person(f"big{index}@example.org", team_id=big) for index in range(3)]
    for person in [manager, member, *others, small_member]:
        world.steady(person)
    cast._busy(world, grinder)
    world.outcome(grinder, cast.monday(WEEK))
    recorder.close()
    give_passwords(context, org_id, world.people_added)

    url = live_server.url
    refused: list[str] = []
    page = _sign_in(browser, url, member, refused)
    try:
        # A member: the organization overview with its charts, their own numbers, their team's aggregates.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Clarity").click()
        expect(page.get_by_role("heading", name="Clarity", level=1)).to_be_visible()
        page.goto(f"{url}/clarity?{RANGE}")
        page.wait_for_function(CHART_PAINTED, arg="chart-active")
        page.wait_for_function(CHART_PAINTED, arg="chart-teams")
        expect(
            page.get_by_role("table", name="Usage and cost by team").get_by_role("row", name="Big")
        ).to_be_visible()
        expect(page.get_by_text("Small", exact=True)).to_have_count(0)
        page.screenshot(path=SCREENSHOT, full_page=True)
        page.get_by_role("navigation", name="Clarity").get_by_role("link", name="My numbers").click()
        expect(page.get_by_role("heading", name="My numbers", level=1)).to_be_visible()
        page.goto(f"{url}/clarity/teams/{big}?{RANGE}")
        expect(page.get_by_role("heading", name="Big", level=1)).to_be_visible()
        page.wait_for_function(CHART_PAINTED, arg="chart-team-daily")
        expect(page.get_by_role("heading", name="People")).to_have_count(0)  # aggregates only
        expect(page.get_by_text(grinder.email)).to_have_count(0)
        for refused_path in (
            f"/clarity/people/{grinder.id}",
            f"/clarity/teams/{small}",
            "/clarity/people/999",
        ):
            page.goto(f"{url}{refused_path}?{RANGE}")
            expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
            expect(page.get_by_text(grinder.email)).to_have_count(0)
        page.goto(f"{url}/clarity/flags?{RANGE}")
        expect(page.get_by_text("No patterns to review in this range.").first).to_be_visible()

        # A manager: the people of their team, but not a report's patterns to review.
        page = _sign_in(browser, url, manager, refused)
        page.goto(f"{url}/clarity/teams/{big}?{RANGE}")
        people_table = page.get_by_role("table", name="Usage and cost by person")
        expect(people_table.get_by_role("link", name=grinder.email)).to_be_visible()
        people_table.get_by_role("link", name=grinder.email).click()
        expect(page.get_by_role("heading", name="Weekly use")).to_be_visible()
        page.wait_for_function(CHART_PAINTED, arg="chart-person-daily")
        expect(page.get_by_role("heading", name="Patterns to review", level=2)).to_have_count(0)
        page.goto(f"{url}/clarity/teams/{small}?{RANGE}")
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()

        # An admin: every pattern to review as a one-line row that opens on its detail, and a review
        # with a note, sent by htmx: the row changes in place and the tabs' counts follow.
        page = _sign_in(browser, url, admin, refused)
        page.goto(f"{url}/clarity/flags?{RANGE}")
        flag = page.locator("details.flag", has_text=grinder.email)
        expect(flag).to_be_visible()
        expect(flag.locator("summary").get_by_text("to review")).to_be_visible()
        expect(flag.get_by_label("Note for the record")).to_be_hidden()  # closed until opened
        flag.locator("summary").click()
        expect(flag.get_by_role("table", name="Signals against the peer baseline")).to_be_visible()
        flag.get_by_label("Note for the record").fill("Load test week, agreed with the team")
        page.evaluate("window.reviewedWithoutReload = true")
        flag.get_by_role("button", name="Dismiss").click()
        flag = page.locator("details.flag", has_text=grinder.email)
        expect(flag.get_by_text("Load test week, agreed with the team")).to_be_visible()
        expect(flag.locator("summary").get_by_text("dismissed")).to_be_visible()
        tabs = page.get_by_role("navigation", name="Show patterns by status")
        expect(tabs.get_by_role("link", name="Dismissed (1)")).to_be_visible()
        expect(tabs.get_by_role("link", name="To review (0)")).to_be_visible()
        expect(flag.locator("summary")).to_be_focused()
        assert page.evaluate("window.reviewedWithoutReload === true")  # the list stayed where it was
        page.screenshot(path="/tmp/web-clarity-flags.png", full_page=True)
        page.set_viewport_size({"width": 400, "height": 900})
        page.reload()
        expect(page.locator("details.flag", has_text=grinder.email)).to_be_visible()
        page.screenshot(path="/tmp/web-clarity-flags-400.png", full_page=True)
        page.goto(f"{url}/clarity/models?{RANGE}")
        page.wait_for_function(CHART_PAINTED, arg="chart-model-daily")
        page.screenshot(path="/tmp/web-clarity-models.png", full_page=True)
    except Exception:
        page.screenshot(path=SCREENSHOT, full_page=True)
        raise
    assert not refused, refused
