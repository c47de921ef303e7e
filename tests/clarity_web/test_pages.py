"""The Clarity pages per role through the real app and the sign-in form: what each role sees, what it
is refused (403 with no hint of the data), the range picker's answers to bad ranges."""

from __future__ import annotations

import re

import pytest

from tests.clarity_web.conftest import RANGE, WebOrg
from tests.postgres import BOTH_BACKENDS


@BOTH_BACKENDS
def test_overview_shows_org_adoption_and_only_teams_of_five_or_more(web_org: WebOrg) -> None:
    org = web_org.org
    for person in (org.small_member, org.big_member, org.admin):
        page = web_org.as_(person).get(f"/clarity?{RANGE}")
        assert page.status_code == 200, page.text
        html = page.text
        assert "<h1>Clarity</h1>" in html
        assert "<caption>Weekly adoption of the organization</caption>" in html
        assert ">Big<" in html  # six people: shown
        assert ">Small<" not in html  # two people: never in organization-wide views
        assert 'data-chart="chart-active-data"' in html
        assert 'type="application/json" id="chart-active-data"' in html
        assert "/api/v1/clarity/adoption?since=2026-11-09&amp;until=2026-11-16" in html
        # Leaderboards carry no people and no flags organization-wide.
        assert org.grinder.email not in html


def test_overview_numbers_are_right_aligned_with_units(web_org: WebOrg) -> None:
    html = web_org.as_(web_org.org.admin).get(f"/clarity?{RANGE}").text
    assert '<th scope="col" class="num">Cost (USD)</th>' in html
    assert '<th scope="col" class="num">Active share (%)</th>' in html
    # Six people in Big, all active: 100% against the 80% goal.
    cells = r'<th scope="row">Big</th>\s*<td class="num">6</td>\s*<td class="num">6</td>\s*<td class="num">100.0%</td>'
    assert re.search(cells, html)
    assert re.search(
        r'<th scope="row"><a href="/clarity/teams/\d+">Big</a></th>\s*<td class="num">450</td>', html
    )


def test_member_sees_their_team_aggregates_but_not_its_people_nor_other_teams(web_org: WebOrg) -> None:
    org = web_org.org
    member = web_org.as_(org.big_member)
    team = member.get(f"/clarity/teams/{org.big}?{RANGE}")
    assert team.status_code == 200
    assert "<caption>Weekly adoption of the team</caption>" in team.text
    assert "Usage and cost by person" not in team.text
    assert org.grinder.email not in team.text
    for path in (f"/clarity/teams/{org.small}", "/clarity/teams/Small", "/clarity/teams/Nowhere"):
        refused = member.get(f"{path}?{RANGE}")
        assert refused.status_code == 403
        assert "Not allowed" in refused.text
        assert "Small" not in refused.text.split("<main", 1)[1] and "Nowhere" not in refused.text
    for ref in (str(org.grinder.id), "ghost@example.org", "999"):
        refused = member.get(f"/clarity/people/{ref}?{RANGE}")
        assert refused.status_code == 403
        assert org.grinder.email not in refused.text


def test_member_self_view_and_redirect(web_org: WebOrg) -> None:
    org = web_org.org
    member = web_org.as_(org.big_member)
    moved = member.get(f"/clarity/me?{RANGE}", follow_redirects=False)
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/clarity/people/{org.big_member.id}?{RANGE}"
    page = member.get(moved.headers["location"])
    assert page.status_code == 200
    assert "<h1>My numbers</h1>" in page.text
    assert "<caption>Weekly use</caption>" in page.text
    assert "Patterns to review</h2>" in page.text  # their own (none)
    assert (
        f"/api/v1/clarity/usage?since=2026-11-09&amp;until=2026-11-16&amp;series=true&amp;user={org.big_member.id}"
        in page.text
    )


def test_manager_sees_the_people_of_their_team_but_not_their_flags(web_org: WebOrg) -> None:
    org = web_org.org
    manager = web_org.as_(org.big_manager)
    team = manager.get(f"/clarity/teams/{org.big}?{RANGE}")
    assert "<caption>Usage and cost by person</caption>" in team.text
    assert f'<a href="/clarity/people/{org.grinder.id}">{org.grinder.email}</a>' in team.text
    person = manager.get(f"/clarity/people/{org.grinder.id}?{RANGE}")
    assert person.status_code == 200
    assert "Patterns to review</h2>" not in person.text
    assert manager.get(f"/clarity/teams/{org.small}?{RANGE}").status_code == 403
    assert manager.get(f"/clarity/people/{org.small_member.id}?{RANGE}").status_code == 403
    flags = manager.get(f"/clarity/flags?{RANGE}")
    assert flags.status_code == 200 and org.grinder.email not in flags.text


@BOTH_BACKENDS
def test_flags_for_admins_and_the_person_concerned_and_review_with_a_note(web_org: WebOrg) -> None:
    org = web_org.org
    admin = web_org.as_(org.admin)
    page = admin.get(f"/clarity/flags?{RANGE}")
    assert page.status_code == 200
    assert org.grinder.email in page.text and "to review" in page.text
    flag_id = int(re.search(r'action="/clarity/flags/(\d+)/review"', page.text).group(1))  # type: ignore[union-attr]
    person = admin.get(f"/clarity/people/{org.grinder.id}?{RANGE}").text
    assert "Patterns to review</h2>" in person and "low_yield" in person

    grinder = web_org.as_(org.grinder)
    own = grinder.get(f"/clarity/flags?{RANGE}")
    assert org.grinder.email in own.text and "Only you, admins and auditors see these" in own.text
    assert "review-form" not in own.text  # the person concerned reads, does not review
    forbidden = grinder.post(
        f"/clarity/flags/{flag_id}/review",
        data={"status": "dismissed", "csrf_token": web_org.csrf(grinder)},
        follow_redirects=False,
    )
    assert forbidden.status_code == 403
    assert org.grinder.email not in web_org.as_(org.big_member).get(f"/clarity/flags?{RANGE}").text

    done = admin.post(
        f"/clarity/flags/{flag_id}/review",
        data={
            "status": "dismissed",
            "note": "Load test week",
            "back": f"/clarity/flags?{RANGE}",
            "csrf_token": web_org.csrf(admin),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/clarity/flags?{RANGE}"
    after = admin.get(done.headers["location"]).text
    assert "Marked dismissed" in after and "Load test week" in after


def test_individual_leaderboard_only_where_an_admin_turned_it_on(web_org: WebOrg) -> None:
    org = web_org.org
    member = web_org.as_(org.big_member)
    assert "Off for this team (the default)" in member.get(f"/clarity/teams/{org.big}?{RANGE}").text
    turned_on = org.client.put(
        "/api/v1/clarity/teams/Big/settings", json={"leaderboard_enabled": True}, headers=org.admin.auth
    )
    assert turned_on.status_code == 200, turned_on.text
    page = member.get(f"/clarity/teams/{org.big}?{RANGE}").text
    board = page.split("Individual leaderboard", 1)[1]
    assert "<caption>Ranked by outcomes</caption>" in board
    assert org.big_member.email in board
    assert "flag" not in board.lower() and "Patterns" not in board
    table = board.split("</table>", 1)[0]
    assert "Tokens</th>" not in table and "Effective tokens</th>" not in table  # no token counts


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "from=2026-11-15&to=2026-11-09",
            "The range is reversed: it starts on 2026-11-15 but ends on 2026-11-09",
        ),
        ("from=2025-01-01&to=2026-11-15", "The range covers 684 days; at most 182 days can be shown at once"),
        ("from=2099-01-01&to=2099-01-02", "after today"),
        ("from=yesterday", "From must be an ISO 8601 date"),
        ("days=many", "Days must be a whole number of days"),
        ("days=400", "Days must be between 1 and 182"),
    ],
)
def test_bad_ranges_are_answered_beside_the_picker(web_org: WebOrg, query: str, message: str) -> None:
    member = web_org.as_(web_org.org.big_member)
    for path in ("/clarity", "/clarity/models", f"/clarity/teams/{web_org.org.big}", "/clarity/flags"):
        page = member.get(f"{path}?{query}")
        assert page.status_code == 400, (path, page.text)
        assert 'role="alert"' in page.text and message in page.text
        assert 'name="from"' in page.text  # the picker stays, to fix the range
        assert "<caption>" not in page.text  # and no numbers


def test_presets_and_empty_range(web_org: WebOrg) -> None:
    member = web_org.as_(web_org.org.big_member)
    page = member.get("/clarity/models?days=7").text
    assert '<a href="/clarity/models?days=7" aria-current="true">7 days</a>' in page
    empty = member.get("/clarity/models?from=2026-01-05&to=2026-01-11").text
    assert "No AI use recorded in this range." in empty
    assert "Nothing to draw in this range." in empty


def test_my_team_link_only_where_the_team_page_opens(web_org: WebOrg) -> None:
    org = web_org.org
    big = web_org.as_(org.big_member).get(f"/clarity?{RANGE}").text
    assert f'<a href="/clarity/teams/{org.big}">My team</a>' in big
    small = web_org.as_(org.small_member).get(f"/clarity?{RANGE}").text
    assert "My team</a>" not in small  # two people: their team page would be a 403
    manager = web_org.as_(org.small_manager).get(f"/clarity?{RANGE}").text
    assert f'<a href="/clarity/teams/{org.small}">My team</a>' in manager  # they see its people anyway


def test_headline_is_the_last_whole_week(web_org: WebOrg) -> None:
    from datetime import UTC, datetime, timedelta

    member = web_org.as_(web_org.org.big_member)
    whole = member.get(f"/clarity?{RANGE}").text
    assert "8 of 10 people, week of 2026-11-09</p>" in whole and "met that week" in whole
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday())
    under_way = member.get(f"/clarity?from={monday}&to={today}").text
    assert f"week of {monday} (still under way)" in under_way and "not met yet this week" in under_way
