"""Who sees whose usage: members their own, managers their team subtree, auditors and admins everyone;
a filter naming someone out of reach is a 403 that says why, never an empty list."""

from __future__ import annotations

from typing import Any

from meshclaw.identity import store
from meshclaw.identity.principal import Role
from tests.postgres import BOTH_BACKENDS
from tests.usage.conftest import Org


def users_in(org: Org, person: Any, path: str = "/api/v1/usage?limit=100") -> list[int]:
    answer = org.client.get(path, headers=person.auth)
    assert answer.status_code == 200, answer.text
    return [item["user_id"] for item in answer.json()["items"]]


def summary_users(org: Org, person: Any, query: str = "") -> set[int]:
    answer = org.client.get(f"/api/v1/usage/summary?group_by=user{query}", headers=person.auth)
    assert answer.status_code == 200, answer.text
    return {group["key"] for group in answer.json()["groups"]}


def refused(org: Org, person: Any, path: str) -> str:
    answer = org.client.get(path, headers=person.auth)
    assert answer.status_code == 403, (path, answer.text)
    error = answer.json()["error"]
    assert error["code"] == "forbidden"
    message: str = error["message"]
    return message


@BOTH_BACKENDS
def test_each_role_sees_exactly_its_reach_in_lists_and_summaries(recorded: Org) -> None:
    o = recorded
    everyone = {o.member.id, o.report.id, o.outsider.id, o.manager.id}
    assert sorted(users_in(o, o.member)) == [o.member.id] * 4
    assert summary_users(o, o.member) == {o.member.id}
    # The manager of Engineering: themself, Engineering and Platform below it; not Sales.
    assert set(users_in(o, o.manager)) == {o.member.id, o.report.id, o.manager.id}
    assert len(users_in(o, o.manager)) == 7
    assert summary_users(o, o.manager) == {o.member.id, o.report.id, o.manager.id}
    for viewer in (o.auditor, o.admin):
        assert set(users_in(o, viewer)) == everyone
        assert summary_users(o, viewer) == everyone
    # A member's summary by team or model still only counts their own calls.
    teams = o.client.get("/api/v1/usage/summary?group_by=team", headers=o.member.auth).json()
    assert teams["totals"]["requests"] == 4


@BOTH_BACKENDS
def test_filters_out_of_reach_are_refused_with_a_reason(recorded: Org) -> None:
    o = recorded
    message = refused(o, o.member, f"/api/v1/usage?user={o.report.id}")
    assert "your own usage" in message
    refused(o, o.member, "/api/v1/usage/summary?user=outsider@example.org")
    refused(o, o.member, f"/api/v1/usage?team={o.eng}")  # even their own team: that is other people
    # Unknown people are refused the same way as existing ones, so filters cannot probe who exists.
    assert refused(o, o.member, "/api/v1/usage?user=ghost@example.org") == refused(
        o, o.member, "/api/v1/usage?user=outsider@example.org"
    ).replace("outsider@example.org", "ghost@example.org")
    message = refused(o, o.manager, "/api/v1/usage?user=outsider@example.org")
    assert "managers see the usage of their own team and the teams below it" in message
    refused(o, o.manager, "/api/v1/usage/summary?team=Sales")
    refused(o, o.manager, "/api/v1/usage/summary?team=NoSuchTeam")


@BOTH_BACKENDS
def test_filters_within_reach_narrow_the_answer(recorded: Org) -> None:
    o = recorded
    assert users_in(o, o.member, "/api/v1/usage?user=member@example.org").count(o.member.id) == 4
    assert set(users_in(o, o.manager, "/api/v1/usage?team=Platform")) == {o.report.id}
    assert summary_users(o, o.manager, f"&user={o.report.id}") == {o.report.id}
    assert summary_users(o, o.auditor, "&team=Sales") == {o.outsider.id}


def test_a_manager_keeps_seeing_usage_stamped_with_their_team_after_a_move(recorded: Org) -> None:
    o = recorded
    context = o.people.context
    with context.db.session() as session:
        report = store.get_user(session, o.people.org_id, o.report.id)
        store.update_user(session, report, team_id=o.sales)
    # History keeps the team of the time: the report's two calls were made in Platform.
    assert users_in(o, o.manager).count(o.report.id) == 2
    # But the person is no longer the manager's to look up by name.
    refused(o, o.manager, f"/api/v1/usage?user={o.report.id}")


def test_keys_without_api_read_cannot_read_usage(org: Org) -> None:
    gateway_only = org.people.add(Role.ADMIN, scopes=["gateway"])
    answer = org.client.get("/api/v1/usage", headers=gateway_only.auth)
    assert answer.status_code == 403
    write_only = org.people.add(Role.ADMIN, scopes=["api:write"])
    answer = org.client.get("/api/v1/usage/summary", headers=write_only.auth)
    assert answer.status_code == 403
    assert "usage" in answer.json()["error"]["message"]
    read_only = org.people.add(Role.MEMBER, scopes=["api:read"])
    assert org.client.get("/api/v1/usage", headers=read_only.auth).status_code == 200


def test_usage_needs_a_credential(org: Org) -> None:
    assert org.client.get("/api/v1/usage").status_code == 401
    assert org.client.get("/api/v1/usage/summary").status_code == 401
