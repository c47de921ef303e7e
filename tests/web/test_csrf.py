"""CSRF on signed-in forms and HTMX requests: the session's token is required, as field or header."""

from __future__ import annotations

from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from meshclaw.identity import store
from meshclaw.identity.principal import Role
from tests.web.conftest import WebPeople, signed_in


def _teams(context: AppContext, org_id: int) -> set[str]:
    with context.db.session() as session:
        return {team.name for team in store.list_teams(session, org_id)}


def test_form_without_token_is_rejected_and_changes_nothing(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople
) -> None:
    signed_in(client, web_people.add(Role.ADMIN))
    missing = client.post("/teams", data={"name": "Sneaky"})
    assert missing.status_code == 403
    assert "did not come from MeshClaw" in missing.text
    wrong = client.post("/teams", data={"name": "Sneaky", "csrf_token": "x" * 43})
    assert wrong.status_code == 403
    wrong_header = client.post("/teams", data={"name": "Sneaky"}, headers={"X-CSRF-Token": "nope"})
    assert wrong_header.status_code == 403
    assert _teams(context, org_id) == set()


def test_token_of_another_session_is_rejected(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople
) -> None:
    with TestClient(client.app) as other_browser:
        someone_elses = signed_in(other_browser, web_people.add(Role.ADMIN))
    signed_in(client, web_people.add(Role.ADMIN))
    assert client.post("/teams", data={"name": "X", "csrf_token": someone_elses}).status_code == 403
    assert _teams(context, org_id) == set()


def test_field_and_header_are_both_accepted(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople
) -> None:
    token = signed_in(client, web_people.add(Role.ADMIN))
    assert client.post("/teams", data={"name": "Form", "csrf_token": token}).status_code == 200
    htmx = client.post("/teams", data={"name": "Htmx"}, headers={"HX-Request": "true", "X-CSRF-Token": token})
    assert htmx.status_code == 200
    assert _teams(context, org_id) == {"Form", "Htmx"}


def test_htmx_rejection_lands_in_the_flash_area(client: TestClient, web_people: WebPeople) -> None:
    signed_in(client, web_people.add(Role.ADMIN))
    answer = client.post("/teams", data={"name": "X"}, headers={"HX-Request": "true"})
    assert answer.status_code == 403
    assert answer.headers["hx-retarget"] == "#flash"
    assert 'role="alert"' in answer.text and "<html" not in answer.text


def test_cross_site_post_is_rejected_even_with_the_token(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople
) -> None:
    token = signed_in(client, web_people.add(Role.ADMIN))
    answer = client.post(
        "/teams", data={"name": "X", "csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert answer.status_code == 403
    assert _teams(context, org_id) == set()


def test_json_api_with_the_session_cookie_needs_the_csrf_header(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople
) -> None:
    token = signed_in(client, web_people.add(Role.ADMIN))
    # A non-ASCII header value is a wrong token like any other (it used to crash the comparison).
    for sent in ({}, {"X-CSRF-Token": "nope"}, {"X-CSRF-Token": "caf\u00e9".encode()}):
        refused = client.post("/api/v1/teams", json={"name": "Api"}, headers=sent)
        assert refused.status_code == 403, sent
        assert "CSRF" in refused.json()["error"]["message"]
    assert (
        client.post("/api/v1/teams", json={"name": "Api"}, headers={"X-CSRF-Token": token}).status_code == 201
    )
    assert _teams(context, org_id) == {"Api"}
