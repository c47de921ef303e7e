"""A person's own profile (name, password) and API keys: the secret is shown once, keys can be revoked."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from meshclaw.identity import store
from meshclaw.identity.principal import Role
from tests.conftest import People
from tests.web.conftest import PASSWORD, WebPeople, csrf_field, sign_in, signed_in

HTMX = {"HX-Request": "true"}
NEW_PASSWORD = "a brand new passphrase"


def test_member_changes_their_own_name(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople
) -> None:
    member = web_people.add()
    token = signed_in(client, member)
    answer = client.post("/account/name", data={"name": "Grace Hopper", "csrf_token": token}, headers=HTMX)
    assert answer.status_code == 200
    assert "Name saved." in answer.text
    assert (
        'id="who-name" class="who-name" aria-current="page" hx-swap-oob="true">Grace Hopper<' in answer.text
    )
    assert "Grace Hopper" in client.get("/org").text  # the navigation shows the new name
    with context.db.session() as session:
        assert store.get_user(session, org_id, member.id).name == "Grace Hopper"
    empty = client.post("/account/name", data={"name": " ", "csrf_token": token}, headers=HTMX)
    assert empty.status_code == 422
    assert "User name must not be empty" in empty.text


def test_password_change_needs_the_current_password(client: TestClient, web_people: WebPeople) -> None:
    member = web_people.add()
    token = signed_in(client, member)
    wrong = client.post(
        "/account/password",
        data={
            "current_password": "not my password",
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
            "csrf_token": token,
        },
        headers=HTMX,
    )
    assert wrong.status_code == 422
    assert "The current password is wrong" in wrong.text
    differ = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD + "!",
            "csrf_token": token,
        },
        headers=HTMX,
    )
    assert "The two new passwords differ" in differ.text
    assert sign_in(TestClient(client.app), member.email, PASSWORD).status_code == 303


def test_password_change_signs_out_other_browsers_but_not_this_one(
    client: TestClient, web_people: WebPeople
) -> None:
    member = web_people.add()
    with TestClient(client.app) as other_browser:
        signed_in(other_browser, member)
        token = signed_in(client, member)
        changed = client.post(
            "/account/password",
            data={
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
                "new_password_again": NEW_PASSWORD,
                "csrf_token": token,
            },
            headers=HTMX,
        )
        # The session and its CSRF token were renewed, so the browser is sent to a freshly rendered page.
        assert changed.headers["hx-redirect"] == "/account?notice=password-changed"
        fresh_page = client.get("/account?notice=password-changed")
        assert "Password changed; your other browsers are signed out." in fresh_page.text
        new_token = csrf_field(fresh_page.text)
        assert new_token != token
        assert client.post("/account/name", data={"name": "Old", "csrf_token": token}).status_code == 403
        assert client.post("/account/name", data={"name": "New", "csrf_token": new_token}).status_code == 200
        assert other_browser.get("/account", follow_redirects=False).status_code == 303
    with TestClient(client.app) as fresh:
        assert sign_in(fresh, member.email, PASSWORD).status_code == 401
        assert sign_in(fresh, member.email, NEW_PASSWORD).status_code == 303


def _create_key(client: TestClient, token: str, name: str, *, htmx: bool = True) -> tuple[int, str]:
    answer = client.post(
        "/account/keys",
        data={"name": name, "scopes": ["api:read", "gateway"], "expires_days": "30", "csrf_token": token},
        headers=HTMX if htmx else {},
    )
    assert answer.status_code == 201, answer.text
    assert "it is shown only this once" in answer.text
    secret = re.search(r'<code id="new-secret">(mc_[^<]+)</code>', answer.text)
    assert secret, "the new key's secret is on the page"
    return answer.status_code, secret.group(1)


def test_new_key_is_shown_once_and_works(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople
) -> None:
    member = web_people.add()
    token = signed_in(client, member)
    _, secret = _create_key(client, token, "laptop")
    listing = client.get("/account/keys").text
    assert secret not in listing
    assert "laptop" in listing and f"mc_{secret.split('_')[1]}_…" in listing
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["key_scopes"] == ["api:read", "gateway"]
    with context.db.session() as session:
        (key,) = [k for k in store.list_keys(session, org_id, owner_user_id=member.id) if k.name == "laptop"]
        assert key.expires_at is not None and key.revoked_at is None


def test_key_page_without_javascript_still_shows_the_secret(
    client: TestClient, web_people: WebPeople
) -> None:
    token = signed_in(client, web_people.add())
    _create_key(client, token, "ci", htmx=False)


def test_key_needs_a_scope_and_a_name(client: TestClient, web_people: WebPeople) -> None:
    token = signed_in(client, web_people.add())
    no_scope = client.post("/account/keys", data={"name": "x", "csrf_token": token}, headers=HTMX)
    assert no_scope.status_code == 422 and "Choose at least one scope" in no_scope.text
    no_name = client.post(
        "/account/keys", data={"name": "", "scopes": ["api:read"], "csrf_token": token}, headers=HTMX
    )
    assert no_name.status_code == 422 and "Key name must not be empty" in no_name.text


def test_revoking_a_key_stops_it(client: TestClient, web_people: WebPeople) -> None:
    token = signed_in(client, web_people.add())
    _, secret = _create_key(client, token, "laptop")
    key_id = re.search(r"/account/keys/(\d+)/revoke", client.get("/account/keys").text)
    assert key_id
    revoked = client.post(f"/account/keys/{key_id.group(1)}/revoke", data={"csrf_token": token}, headers=HTMX)
    assert revoked.status_code == 200
    assert "Key &#39;laptop&#39; revoked" in revoked.text and "revoked</span>" in revoked.text
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_nobody_revokes_someone_elses_key_from_their_keys_page(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople, people: People
) -> None:
    other = people.add()
    with context.db.session() as session:
        (key,) = store.list_keys(session, org_id, owner_user_id=other.id)
        key_id = key.id
    token = signed_in(client, web_people.add(Role.ADMIN))
    answer = client.post(f"/account/keys/{key_id}/revoke", data={"csrf_token": token})
    assert answer.status_code == 404
    with context.db.session() as session:
        assert store.get_key(session, org_id, key_id).revoked_at is None
