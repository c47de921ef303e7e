"""/api/v1/clarity through the real app on SQLite and PostgreSQL: what each role sees (and is refused),
leaderboards without small teams, flags and their review, settings, and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from tests.clarity.api_org import ApiOrg, build
from tests.clarity.conftest import WEEK
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS

RANGE = f"since={WEEK}&until={WEEK + timedelta(days=7)}"


@pytest.fixture
def org(client: TestClient, context: AppContext, people: People) -> ApiOrg:
    return build(client, context, people)


@BOTH_BACKENDS
def test_adoption_organization_view_shows_teams_of_five_or_more(org: ApiOrg) -> None:
    for person in (org.small_member, org.big_member, org.admin):
        status, body = org.get(f"/api/v1/clarity/adoption?{RANGE}", person)
        assert status == 200, body
        (week,) = body["weeks"]
        assert [team["team"] for team in week["teams"]] == ["Big"]
        assert week["organization"]["people"] == 10
    big = week["teams"][0]
    # Six people in Big, all using AI on 3 days (the grinder on 5): all active, 100% against 80%.
    assert (big["people"], big["active"], big["rate"], big["goal_met"]) == (6, 6, 1.0, True)
    assert big["cohorts"] == {"none": 0, "light": 0, "moderate": 5, "heavy": 1}
    assert body["rule"] == {"weekly_goal": 0.8, "active_min_days": 2, "active_min_accepted": 1}


@BOTH_BACKENDS
def test_team_aggregates_per_role(org: ApiOrg) -> None:
    path = f"/api/v1/clarity/adoption?{RANGE}&team="
    assert org.get(path + "Big", org.big_member)[0] == 200  # their own team, 5 or more people
    assert org.get(path + "Small", org.big_member)[0] == 403  # not their team
    assert org.get(path + "Small", org.small_member)[0] == 403  # their team, but under 5 people
    assert org.get(path + "Small", org.small_manager)[0] == 200  # the manager sees the people anyway
    assert org.get(path + "Small", org.auditor)[0] == 200
    assert org.get(path + "Nowhere", org.admin)[0] == 404
    status, body = org.get(path + "Nowhere", org.big_member)
    assert status == 403  # the same refusal as for a team that exists
    assert "Nowhere" not in body["error"]["message"]


@BOTH_BACKENDS
def test_person_numbers_per_role(org: ApiOrg) -> None:
    path = f"/api/v1/clarity/outcomes?{RANGE}&user="
    assert org.get(path + org.big_member.email, org.big_member)[0] == 200
    assert org.get(path + org.big_member.email, org.big_manager)[0] == 200
    assert org.get(path + org.big_member.email, org.small_manager)[0] == 403
    assert org.get(path + org.big_member.email, org.small_member)[0] == 403
    assert org.get(path + "ghost@example.org", org.small_member)[0] == 403
    assert org.get(path + "ghost@example.org", org.auditor)[0] == 404
    status, body = org.get(path + org.big_member.email, org.auditor)
    assert status == 200 and body["value_units"] == 12.0
    # A member may read Big's aggregates but not break them down per person.
    assert org.get(f"/api/v1/clarity/usage?{RANGE}&team=Big", org.big_member)[0] == 200
    assert org.get(f"/api/v1/clarity/usage?{RANGE}&team=Big&group_by=user", org.big_member)[0] == 403
    assert org.get(f"/api/v1/clarity/usage?{RANGE}&team=Big&group_by=user", org.big_manager)[0] == 200


@BOTH_BACKENDS
def test_usage_unnamed_is_what_the_role_covers_and_by_team_hides_small_teams(org: ApiOrg) -> None:
    status, body = org.get(f"/api/v1/clarity/usage?{RANGE}&group_by=user", org.big_member)
    assert status == 200
    assert [row["label"] for row in body["rows"]] == [org.big_member.email]
    assert body["rows"][0]["effective_tokens"] == 30 * 4000.0
    status, body = org.get(f"/api/v1/clarity/usage?{RANGE}&group_by=user", org.admin)
    assert len(body["rows"]) == 8
    status, body = org.get(f"/api/v1/clarity/usage?{RANGE}&group_by=team", org.small_member)
    assert [row["label"] for row in body["rows"]] == ["Big"]
    status, body = org.get(f"/api/v1/clarity/usage?{RANGE}&series=true", org.admin)
    assert status == 200 and [row["day"] for row in body["rows"]] == [
        str(WEEK + timedelta(days=offset)) for offset in range(5)
    ]
    assert org.get("/api/v1/clarity/forecast?as_of=2026-11-12", org.admin)[1]["days_elapsed"] == 11


@BOTH_BACKENDS
def test_leaderboards(org: ApiOrg) -> None:
    status, body = org.get(f"/api/v1/clarity/leaderboard?{RANGE}", org.small_member)
    assert status == 200 and body["scope"] == "teams"
    assert [entry["label"] for entry in body["entries"]] == ["Big"]
    assert "tokens" not in str(sorted(body["entries"][0])).replace("per_1k_effective_tokens", "")
    people_path = f"/api/v1/clarity/leaderboard?{RANGE}&team=Big"
    assert org.get(people_path, org.big_member)[0] == 403  # off by default
    assert org.get(people_path, org.admin)[0] == 403
    turned_on = org.client.put(
        "/api/v1/clarity/teams/Big/settings", json={"leaderboard_enabled": True}, headers=org.admin.auth
    )
    assert turned_on.status_code == 200 and turned_on.json()["leaderboard_enabled"] is True
    assert (
        org.client.put(
            "/api/v1/clarity/teams/Big/settings",
            json={"leaderboard_enabled": True},
            headers=org.big_manager.auth,
        ).status_code
        == 403
    )
    status, body = org.get(people_path, org.big_member)
    assert status == 200 and body["scope"] == "people"
    ranks = [entry["label"] for entry in body["entries"]]
    assert len(ranks) == 6 and ranks[-1] == "grinder@example.org"  # most tokens, fewest outcomes: last
    assert org.get(people_path, org.small_member)[0] == 403
    status, body = org.get(people_path + "&rank_by=yield", org.auditor)
    assert body["entries"][-1]["label"] == "grinder@example.org"
    assert org.get(people_path + "&rank_by=tokens", org.auditor)[0] == 400


@BOTH_BACKENDS
def test_flags_are_shown_to_admins_auditors_and_the_person_concerned(org: ApiOrg) -> None:
    path = f"/api/v1/clarity/flags?{RANGE}"
    status, body = org.get(path, org.admin)
    assert status == 200, body
    (flag,) = body["flags"]
    assert (flag["subject"], flag["kind"], flag["status"]) == ("grinder@example.org", "person", "open")
    assert flag["signals"][0]["name"] == "low_yield" and flag["signals"][0]["baseline"] > 0
    assert flag["explanation"] and flag["evidence"]
    assert [f["id"] for f in org.get(path, org.auditor)[1]["flags"]] == [flag["id"]]
    assert [f["id"] for f in org.get(path, org.grinder)[1]["flags"]] == [flag["id"]]
    assert org.get(path, org.big_manager)[1]["flags"] == []  # the grinder's manager does not see it
    assert org.get(path, org.big_member)[1]["flags"] == []
    review = f"/api/v1/clarity/flags/{flag['id']}/review"
    for person in (org.grinder, org.big_manager, org.big_member):
        assert org.client.post(review, json={"status": "dismissed"}, headers=person.auth).status_code == 403
    answer = org.client.post(
        review, json={"status": "dismissed", "note": "release week"}, headers=org.auditor.auth
    )
    assert answer.status_code == 200 and answer.json()["status"] == "dismissed"
    assert (
        org.client.post(
            f"/api/v1/clarity/flags/{flag['id'] + 99}/review",
            json={"status": "confirmed"},
            headers=org.admin.auth,
        ).status_code
        == 404
    )
    assert org.client.post(review, json={"status": "ignored"}, headers=org.admin.auth).status_code == 422
    # Leaderboards never carry flags.
    assert "flag" not in str(org.get(f"/api/v1/clarity/leaderboard?{RANGE}", org.admin)[1])


@BOTH_BACKENDS
def test_settings_read_by_everyone_changed_by_admins(org: ApiOrg) -> None:
    status, body = org.get("/api/v1/clarity/settings", org.big_member)
    assert status == 200 and body["weekly_goal"] == 0.8 and body["teams"] == []
    forbidden = org.client.put(
        "/api/v1/clarity/settings", json={"weekly_goal": 0.5}, headers=org.big_manager.auth
    )
    assert forbidden.status_code == 403
    changed = org.client.put(
        "/api/v1/clarity/settings",
        json={"weekly_goal": 0.5, "active_min_days": 4, "active_min_accepted": 0},
        headers=org.admin.auth,
    )
    assert changed.status_code == 200 and changed.json()["weekly_goal"] == 0.5
    week = org.get(f"/api/v1/clarity/adoption?{RANGE}", org.admin)[1]["weeks"][0]
    assert (
        week["teams"][0]["active"] == 1
    )  # only the grinder used AI on 4 or more days; outcomes no longer count
    bad = org.client.put("/api/v1/clarity/settings", json={"weekly_goal": 1.5}, headers=org.admin.auth)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "weekly_goal"
    for name in ("weekly_goal", "active_min_days", "active_min_accepted", "minutes_saved"):
        null = org.client.put("/api/v1/clarity/settings", json={name: None}, headers=org.admin.auth)
        assert null.status_code == 422, null.text  # was a 500: the null reached the range checks
        assert "cannot be null" in null.json()["error"]["message"] and name in null.json()["error"]["message"]
    target = org.client.put(
        "/api/v1/clarity/settings", json={"weekly_token_target": None}, headers=org.admin.auth
    )
    assert target.status_code == 200 and target.json()["weekly_token_target"] is None  # null: no target


@BOTH_BACKENDS
@pytest.mark.parametrize(
    "query",
    [
        "since=2026-11-09&until=2026-11-09",  # empty
        "since=2026-11-16&until=2026-11-09",  # reversed
        "since=2020-01-01&until=2026-11-09",  # huge
        "since=yesterday",  # not a date
    ],
)
def test_bad_ranges_are_400(org: ApiOrg, query: str) -> None:
    for endpoint in ("adoption", "usage", "outcomes", "leaderboard", "flags"):
        status, body = org.get(f"/api/v1/clarity/{endpoint}?{query}", org.admin)
        assert status == 400, (endpoint, body)
        assert body["error"]["field"] in ("since", "until")


@BOTH_BACKENDS
def test_other_bad_input(org: ApiOrg) -> None:
    assert org.get(f"/api/v1/clarity/usage?{RANGE}&group_by=color", org.admin)[0] == 400
    assert org.get(f"/api/v1/clarity/outcomes?{RANGE}&agent=seven", org.admin)[0] == 400
    assert org.get(f"/api/v1/clarity/outcomes?{RANGE}&user=not-an-email", org.admin)[0] == 400
    assert org.get(f"/api/v1/clarity/usage?{RANGE}&team=99999999999999999999", org.admin)[0] == 404
    assert org.get("/api/v1/clarity/forecast?as_of=soon", org.admin)[0] == 400
    assert org.client.get("/api/v1/clarity/flags").status_code == 401


@BOTH_BACKENDS
def test_reactivity_lists_teams_with_a_target_the_reader_may_see(org: ApiOrg) -> None:
    for team in ("Big", "Small"):
        answer = org.client.put(
            f"/api/v1/clarity/teams/{team}/settings",
            json={"leaderboard_enabled": True},
            headers=org.admin.auth,
        )
        assert answer.status_code == 200
    status, body = org.get("/api/v1/clarity/reactivity", org.admin)
    assert status == 200 and {team["team"] for team in body} == {"Big", "Small"}
    assert all(team["after"] is None and team["flagged"] is False for team in body)
    assert {team["team"] for team in org.get("/api/v1/clarity/reactivity", org.small_member)[1]} == set()
    assert {team["team"] for team in org.get("/api/v1/clarity/reactivity", org.big_member)[1]} == {"Big"}
