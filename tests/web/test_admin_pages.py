"""Teams and people administration pages: who may open them, what the forms change, and how errors read."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from meshclaw.identity import store
from meshclaw.identity.principal import Role
from tests.conftest import People
from tests.web.conftest import WebPeople, signed_in

HTMX = {"HX-Request": "true"}


def _team_names(context: AppContext, org_id: int) -> dict[str, str | None]:
    """Each team's name with its parent's name."""
    with context.db.session() as session:
        teams = store.list_teams(session, org_id)
        by_id = {t.id: t.name for t in teams}
        return {t.name: by_id.get(t.parent_id) if t.parent_id else None for t in teams}


# --- who may open what -----------------------------------------------------------------------------


def test_member_gets_a_403_page_for_someone_elses_person_page(
    client: TestClient, web_people: WebPeople
) -> None:
    other = web_people.add(Role.ADMIN)
    member = web_people.add()
    signed_in(client, member)
    page = client.get(f"/users/{other.id}")
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert "Not allowed" in page.text
    assert other.email not in page.text
    # A made-up id gets the same answer, so ids cannot be probed.
    assert client.get("/users/999999").status_code == 403


def test_member_can_open_their_own_profile_and_person_page(client: TestClient, web_people: WebPeople) -> None:
    member = web_people.add()
    signed_in(client, member)
    profile = client.get("/account")
    assert profile.status_code == 200
    assert member.email in profile.text
    assert client.get(f"/users/{member.id}").status_code == 200


def test_member_sees_no_admin_navigation_and_cannot_list_people(
    client: TestClient, web_people: WebPeople, people: People
) -> None:
    people.team("Platform")
    signed_in(client, web_people.add())
    overview = client.get("/org").text
    assert 'href="/users"' not in overview
    assert 'href="/account/keys"' in overview
    assert client.get("/users").status_code == 403
    teams = client.get("/teams")
    assert teams.status_code == 200
    assert "Platform" in teams.text
    assert "New team" not in teams.text and "Delete team" not in teams.text


def test_member_posts_to_admin_forms_are_refused(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople, people: People
) -> None:
    team = people.team("Platform")
    other = web_people.add()
    token = signed_in(client, web_people.add())
    assert client.post("/teams", data={"name": "Mine", "csrf_token": token}).status_code == 403
    assert client.post(f"/teams/{team}/delete", data={"csrf_token": token}).status_code == 403
    change = client.post(f"/users/{other.id}", data={"role": "admin", "csrf_token": token})
    assert change.status_code == 403
    assert client.post("/users", data={"email": "x@example.org", "csrf_token": token}).status_code == 403
    assert set(_team_names(context, org_id)) == {"Platform"}
    with context.db.session() as session:
        assert store.get_user(session, org_id, other.id).role == "member"


def test_manager_sees_their_team_in_the_directory_but_cannot_change_people(
    client: TestClient, web_people: WebPeople, people: People
) -> None:
    team = people.team("Platform")
    report = web_people.add(team_id=team)
    outsider = web_people.add()
    signed_in(client, web_people.add(Role.MANAGER, team_id=team))
    listing = client.get("/users").text
    assert report.email in listing and outsider.email not in listing
    page = client.get(f"/users/{report.id}")
    assert page.status_code == 200
    assert "Save changes" not in page.text
    assert client.get(f"/users/{outsider.id}").status_code == 403


# --- teams -------------------------------------------------------------------------------------------


def test_admin_builds_renames_and_moves_teams(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople
) -> None:
    token = signed_in(client, web_people.add(Role.ADMIN))
    created = client.post("/teams", data={"name": "Engineering", "csrf_token": token}, follow_redirects=False)
    assert created.status_code == 303 and created.headers["location"] == "/teams"
    eng = _team_id(context, org_id, "Engineering")
    sub = client.post(
        "/teams", data={"name": "Platform", "parent_id": str(eng)}, headers={**HTMX, "X-CSRF-Token": token}
    )
    assert sub.status_code == 200
    assert sub.text.lstrip().startswith('<section id="teams-panel"')  # the partial, not a whole page
    assert "Team &#39;Platform&#39; created." in sub.text
    platform = _team_id(context, org_id, "Platform")
    renamed = client.post(
        f"/teams/{platform}", data={"name": "Platform Eng", "parent_id": "", "csrf_token": token}
    )
    assert renamed.status_code == 200
    assert _team_names(context, org_id) == {"Engineering": None, "Platform Eng": None}
    client.post(
        f"/teams/{platform}", data={"name": "Platform Eng", "parent_id": str(eng), "csrf_token": token}
    )
    assert _team_names(context, org_id) == {"Engineering": None, "Platform Eng": "Engineering"}
    tree = client.get("/teams").text
    # The sub-team is drawn inside its parent's list item.
    assert re.search(r"Engineering</span>.*?<ul>.*?Platform Eng</span>", tree, re.S)


def test_team_errors_are_shown_clearly(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople, people: People
) -> None:
    parent = people.team("Engineering")
    child = people.team("Platform", parent_id=parent)
    people.add(team_id=child)
    token = signed_in(client, web_people.add(Role.ADMIN))
    duplicate = client.post("/teams", data={"name": "Engineering", "csrf_token": token})
    assert duplicate.status_code == 409
    assert "A team named &#39;Engineering&#39; already exists" in duplicate.text
    cycle = client.post(
        f"/teams/{parent}",
        data={"name": "Engineering", "parent_id": str(child)},
        headers={**HTMX, "X-CSRF-Token": token},
    )
    assert cycle.status_code == 409
    assert "cannot have a cycle" in cycle.text
    has_children = client.post(f"/teams/{parent}/delete", data={"csrf_token": token})
    assert has_children.status_code == 409
    assert "has sub-teams; move or delete them first" in has_children.text
    has_members = client.post(f"/teams/{child}/delete", data={"csrf_token": token})
    assert has_members.status_code == 409
    assert "still has members" in has_members.text
    empty_name = client.post("/teams", data={"name": "   ", "csrf_token": token})
    assert empty_name.status_code == 422
    assert set(_team_names(context, org_id)) == {"Engineering", "Platform"}


def test_admin_deletes_an_empty_team(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople, people: People
) -> None:
    team = people.team("Old")
    token = signed_in(client, web_people.add(Role.ADMIN))
    answer = client.post(f"/teams/{team}/delete", headers={**HTMX, "X-CSRF-Token": token})
    assert answer.status_code == 200
    assert "Team &#39;Old&#39; deleted." in answer.text
    assert _team_names(context, org_id) == {}


def _team_id(context: AppContext, org_id: int, name: str) -> int:
    with context.db.session() as session:
        team = store.team_by_name(session, org_id, name)
        assert team is not None
        return team.id


# --- people ------------------------------------------------------------------------------------------


def test_directory_paginates_and_filters_by_team(
    client: TestClient, web_people: WebPeople, people: People
) -> None:
    team = people.team("Platform")
    admin = web_people.add(Role.ADMIN)
    in_team = [people.add(team_id=team) for _ in range(3)]
    for _ in range(25):
        people.add()
    signed_in(client, admin)
    first = client.get("/users").text
    assert "Page 1 of 2" in first and "29 people" in first
    assert first.count('<td><a href="/users/') == 25
    second = client.get("/users", params={"page": 2}).text
    assert "Page 2 of 2" in second and "← Previous" in second
    assert second.count('<td><a href="/users/') == 4
    filtered = client.get("/users", params={"team_id": team}, headers=HTMX)
    assert filtered.text.lstrip().startswith('<section id="users-panel"')
    assert "3 people" in filtered.text
    assert all(p.email in filtered.text for p in in_team)
    assert admin.email not in filtered.text


def test_admin_adds_a_person_and_changes_their_role_team_and_manager(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople, people: People
) -> None:
    team = people.team("Platform")
    admin = web_people.add(Role.ADMIN)
    token = signed_in(client, admin)
    added = client.post(
        "/users",
        data={
            "email": "Ada@Example.org",
            "name": "Ada",
            "role": "member",
            "team_id": str(team),
            "csrf_token": token,
        },
        headers=HTMX,
    )
    assert added.status_code == 200
    assert "Added ada@example.org." in added.text
    with context.db.session() as session:
        ada = store.user_by_email(session, org_id, "ada@example.org")
        assert ada is not None and ada.team_id == team and ada.password_hash is None
        ada_id = ada.id
    changed = client.post(
        f"/users/{ada_id}",
        data={"role": "manager", "team_id": "", "manager_email": admin.email, "csrf_token": token},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    page = client.get(f"/users/{ada_id}").text
    assert "manager" in page
    with context.db.session() as session:
        ada = store.get_user(session, org_id, ada_id)
        assert (ada.role, ada.team_id, ada.manager_id) == ("manager", None, admin.id)


def test_people_form_errors_keep_what_was_typed(client: TestClient, web_people: WebPeople) -> None:
    existing = web_people.add()
    token = signed_in(client, web_people.add(Role.ADMIN))
    duplicate = client.post(
        "/users", data={"email": existing.email, "name": "Typed Name", "csrf_token": token}, headers=HTMX
    )
    assert duplicate.status_code == 409
    assert f"A user with email {existing.email} already exists" in duplicate.text
    assert 'value="Typed Name"' in duplicate.text
    bad_manager = client.post(
        "/users",
        data={"email": "new@example.org", "manager_email": "ghost@example.org", "csrf_token": token},
    )
    assert bad_manager.status_code == 404
    assert "No person with email ghost@example.org" in bad_manager.text


def test_the_last_admin_cannot_be_demoted_or_deactivated(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople
) -> None:
    admin = web_people.add(Role.ADMIN)
    token = signed_in(client, admin)
    demote = client.post(f"/users/{admin.id}", data={"role": "member", "csrf_token": token}, headers=HTMX)
    assert demote.status_code == 409
    assert "This is the last active admin" in demote.text
    deactivate = client.post(f"/users/{admin.id}/active", data={"active": "false", "csrf_token": token})
    assert deactivate.status_code == 409
    with context.db.session() as session:
        me = store.get_user(session, org_id, admin.id)
        assert (me.role, me.active) == ("admin", True)


def test_deactivated_person_is_signed_out_everywhere(
    client: TestClient, context: AppContext, web_people: WebPeople
) -> None:
    member = web_people.add()
    with TestClient(client.app) as member_browser:
        signed_in(member_browser, member)
        token = signed_in(client, web_people.add(Role.ADMIN))
        answer = client.post(
            f"/users/{member.id}/active", data={"active": "false", "csrf_token": token}, headers=HTMX
        )
        assert answer.status_code == 200 and "Deactivated." in answer.text and "Reactivate" in answer.text
        assert member_browser.get("/org", follow_redirects=False).status_code == 303
        back = client.post(
            f"/users/{member.id}/active", data={"active": "true", "csrf_token": token}, headers=HTMX
        )
        assert "Reactivated." in back.text
