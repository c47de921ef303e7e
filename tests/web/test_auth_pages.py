"""Sign-in, sign-out, the first-admin setup link, `/`, and where people land after signing in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from meshclaw.clock import FrozenClock
from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import User, WebSession
from meshclaw.identity.bootstrap import bootstrap
from meshclaw.identity.principal import Role
from meshclaw.server.app import create_app
from tests.web.conftest import PASSWORD, WebPeople, csrf_field, sign_in, signed_in


def test_root_sends_strangers_to_login_and_members_to_the_overview(
    client: TestClient, web_people: WebPeople
) -> None:
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    signed_in(client, web_people.add())
    assert client.get("/", follow_redirects=False).headers["location"] == "/org"


def test_sign_in_sets_a_locked_down_session_cookie(client: TestClient, web_people: WebPeople) -> None:
    person = web_people.add()
    answer = sign_in(client, person.email, next_path="/teams")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/teams"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("meshclaw_session="))
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=lax", "path=/"} <= attributes
    assert "secure" not in attributes  # the test server is plain http
    assert "max-age" not in cookie.lower()  # ends with the browser; the server enforces the expiry
    page = client.get("/teams")
    assert page.status_code == 200
    assert "Sign out" in page.text


def test_session_cookie_is_secure_behind_https(context: AppContext, web_people: WebPeople) -> None:
    settings = load_settings(
        data_dir=context.settings.data_dir,
        database_url=context.settings.database_url,
        public_url="https://meshclaw.example.org",
    )
    https_context = AppContext(settings=settings, db=context.db)
    person = web_people.add()
    with TestClient(create_app(https_context), base_url="https://meshclaw.example.org") as client:
        form = client.get("/login")
        assert "__Host-meshclaw_login_csrf=" in form.headers["set-cookie"]
        answer = sign_in(client, person.email)
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("meshclaw_session="))
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_wrong_password_and_unknown_email_get_the_same_answer(
    client: TestClient, web_people: WebPeople
) -> None:
    person = web_people.add()
    wrong_password = sign_in(client, person.email, "not the password at all")
    unknown_email = sign_in(client, "nobody@example.org", PASSWORD)
    for answer in (wrong_password, unknown_email):
        assert answer.status_code == 401
        assert "Wrong email or password." in answer.text
        assert "meshclaw_session=" not in answer.headers.get("set-cookie", "")
    assert wrong_password.text.replace(person.email, "X") == unknown_email.text.replace(
        "nobody@example.org", "X"
    )


def test_too_many_failures_show_a_clear_rate_limit_message(
    context: AppContext, web_people: WebPeople
) -> None:
    settings = load_settings(
        data_dir=context.settings.data_dir, database_url=context.settings.database_url, login_max_failures=2
    )
    person = web_people.add()
    with TestClient(create_app(AppContext(settings=settings, db=context.db))) as client:
        assert sign_in(client, person.email, "wrong password 1").status_code == 401
        assert sign_in(client, person.email, "wrong password 2").status_code == 401
        limited = sign_in(client, person.email, PASSWORD)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) == 15 * 60
    assert "Too many failed sign-ins. Wait 15 minutes, then try again." in limited.text


@pytest.mark.parametrize(
    "next_path",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_sign_in_never_redirects_off_site(client: TestClient, web_people: WebPeople, next_path: str) -> None:
    person = web_people.add()
    answer = sign_in(client, person.email, next_path=next_path)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/org"


def test_open_redirect_is_refused_on_the_login_form_too(client: TestClient) -> None:
    page = client.get("/login", params={"next": "//evil.example"})
    assert 'name="next" value="/org"' in page.text
    page = client.get("/login", params={"next": "/users?team_id=3"})
    assert 'name="next" value="/users?team_id=3"' in page.text


def test_login_form_without_its_double_submit_token_is_refused(
    client: TestClient, web_people: WebPeople
) -> None:
    person = web_people.add()
    no_token = client.post("/login", data={"email": person.email, "password": PASSWORD})
    assert no_token.status_code == 403
    assert "This form expired or did not come from MeshClaw" in no_token.text
    assert "meshclaw_session=" not in no_token.headers.get("set-cookie", "")
    client.get("/login")  # sets the cookie half
    forged = client.post("/login", data={"email": person.email, "password": PASSWORD, "csrf_token": "a" * 43})
    assert forged.status_code == 403


def test_login_post_from_another_site_is_refused(client: TestClient, web_people: WebPeople) -> None:
    person = web_people.add()
    token = csrf_field(client.get("/login").text)
    cross = client.post(
        "/login",
        data={"email": person.email, "password": PASSWORD, "csrf_token": token},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        follow_redirects=False,
    )
    assert cross.status_code == 403
    same = client.post(
        "/login",
        data={"email": person.email, "password": PASSWORD, "csrf_token": token},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert same.status_code == 303


def test_sign_out_deletes_the_server_side_session(
    client: TestClient, context: AppContext, web_people: WebPeople
) -> None:
    person = web_people.add()
    token = signed_in(client, person)
    cookie = client.cookies["meshclaw_session"]
    answer = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert answer.headers["location"] == "/login?notice=signed-out"
    with context.db.session() as session:
        left = session.scalar(
            select(func.count()).select_from(WebSession).where(WebSession.user_id == person.id)
        )
    assert left == 0
    client.cookies.set("meshclaw_session", cookie)  # replaying the old cookie gets nowhere
    assert client.get("/org", follow_redirects=False).headers["location"] == "/login?next=/org"


def test_sign_out_needs_the_csrf_token(client: TestClient, web_people: WebPeople) -> None:
    signed_in(client, web_people.add())
    assert client.post("/logout", follow_redirects=False).status_code == 403
    assert client.get("/org").status_code == 200


def test_missing_session_redirects_to_login_with_the_page_to_return_to(client: TestClient) -> None:
    answer = client.get("/users?team_id=2", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/users%3Fteam_id%3D2"
    htmx = client.get("/teams", headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/teams"})
    assert htmx.status_code == 401
    assert htmx.headers["hx-redirect"] == "/login?next=/teams"


def test_expired_session_redirects_to_login(
    settings: Settings, context: AppContext, web_people: WebPeople
) -> None:
    clock = FrozenClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    frozen = AppContext(settings=settings, db=context.db, clock=clock)
    person = web_people.add()
    with TestClient(create_app(frozen)) as client:
        signed_in(client, person)
        assert client.get("/teams").status_code == 200
        clock.advance(timedelta(hours=settings.session_ttl_hours, minutes=1).total_seconds())
        answer = client.get("/teams", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/teams"


def test_sso_link_only_when_an_issuer_is_configured(context: AppContext) -> None:
    with TestClient(create_app(context)) as client:
        assert "/auth/oidc/login" not in client.get("/login").text
    settings = load_settings(
        data_dir=context.settings.data_dir,
        database_url=context.settings.database_url,
        oidc_issuer="https://id.example.org",
    )
    with TestClient(create_app(AppContext(settings=settings, db=context.db))) as client:
        page = client.get("/login").text
    assert 'href="/auth/oidc/login"' in page
    assert "Sign in with SSO" in page


def _setup_link(context: AppContext) -> str:
    with context.db.session() as session:
        result = bootstrap(
            session, org_name="Test Org", token_ttl=timedelta(hours=1), now=context.clock.now()
        )
    assert result.setup_token is not None
    return f"/setup/{result.setup_token}"


def test_setup_link_works_once_then_is_refused(client: TestClient, context: AppContext) -> None:
    link = _setup_link(context)
    form = client.get(link)
    assert form.status_code == 200
    fields = {
        "email": "first@example.org",
        "name": "First Admin",
        "password": PASSWORD,
        "password_again": PASSWORD,
        "csrf_token": csrf_field(form.text),
    }
    done = client.post(link, data=fields, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/login?notice=setup-done"
    with context.db.session() as session:
        admin = session.scalars(select(User).where(User.email == "first@example.org")).one()
        assert admin.role == Role.ADMIN.value
    assert sign_in(client, "first@example.org").status_code == 303

    again = client.get(link)
    assert again.status_code == 403
    assert "already used" in again.text
    replay = client.post(link, data={**fields, "email": "second@example.org"})
    assert replay.status_code == 403
    with context.db.session() as session:
        assert session.scalars(select(User).where(User.email == "second@example.org")).first() is None


def test_setup_form_explains_mistakes_and_keeps_the_link_usable(
    client: TestClient, context: AppContext
) -> None:
    link = _setup_link(context)
    token = csrf_field(client.get(link).text)
    base = {"email": "first@example.org", "name": "First", "csrf_token": token}
    differ = client.post(link, data={**base, "password": PASSWORD, "password_again": PASSWORD + "x"})
    assert differ.status_code == 422
    assert "The two passwords differ." in differ.text
    short = client.post(link, data={**base, "password": "short", "password_again": "short"})
    assert short.status_code == 422
    assert "at least 12 characters" in short.text
    assert client.get(link).status_code == 200


def test_setup_form_needs_its_double_submit_token(client: TestClient, context: AppContext) -> None:
    link = _setup_link(context)
    client.get(link)
    answer = client.post(
        link,
        data={"email": "x@example.org", "name": "X", "password": PASSWORD, "password_again": PASSWORD},
    )
    assert answer.status_code == 403
    assert client.get(link).status_code == 200  # the link was not spent


def test_unknown_setup_link_is_refused(client: TestClient) -> None:
    assert client.get("/setup/not-a-real-token").status_code == 403
