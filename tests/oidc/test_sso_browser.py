"""Single sign-on end to end: Chromium, a live MeshClaw and a real OpenID provider (node-oidc-provider),
through the provider's own login and consent pages."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from meshclaw.api.deps import SESSION_COOKIE
from meshclaw.db.models import User
from meshclaw.identity import store
from meshclaw.identity.oidc import subject_key
from meshclaw.identity.principal import Role
from tests.conftest import LiveServer
from tests.oidc.conftest import OidcProvider
from tests.postgres import BOTH_BACKENDS

pytestmark = pytest.mark.browser


@pytest.fixture
def tab(browser: Browser) -> Iterator[Page]:
    context: BrowserContext = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def add_user(live_server: LiveServer, email: str, *, role: Role = Role.MEMBER) -> int:
    context = live_server.context
    with context.db.session() as session:
        org = store.get_org(session)
        assert org is not None
        return store.create_user(session, org_id=org.id, email=email, role=role, now=context.clock.now()).id


def sign_in_at_provider(page: Page, provider: OidcProvider, login: str) -> None:
    """The provider's development login page, then its consent page."""
    expect(page).to_have_url(re.compile(re.escape(provider.issuer) + "/interaction/"))
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password works here")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def me(page: Page, live_server: LiveServer) -> tuple[int, dict[str, object]]:
    """/api/v1/me through the browser's own cookies."""
    response = page.request.get(f"{live_server.url}/api/v1/me")
    return response.status, response.json()


def session_cookie(page: Page) -> dict[str, object] | None:
    found = [cookie for cookie in page.context.cookies() if cookie["name"] == SESSION_COOKIE]
    return dict(found[0]) if found else None


@pytest.mark.parametrize(
    "claims_in_id_token", [False, True], ids=["claims-from-userinfo", "claims-in-id-token"]
)
def test_a_known_user_signs_in_with_sso(
    live_server: LiveServer, oidc_provider: OidcProvider, tab: Page, claims_in_id_token: bool
) -> None:
    ada_id = add_user(live_server, "ada@example.org", role=Role.MANAGER)
    tab.goto(f"{live_server.url}/login")
    tab.get_by_role("button", name="Sign in with SSO").click()
    sign_in_at_provider(tab, oidc_provider, "ada")

    expect(tab).to_have_url(f"{live_server.url}/org")
    status, body = me(tab, live_server)
    assert status == 200
    assert (body["id"], body["email"], body["role"]) == (ada_id, "ada@example.org", "manager")
    cookie = session_cookie(tab)
    assert cookie is not None
    assert (cookie["httpOnly"], cookie["sameSite"], cookie["secure"]) == (True, "Lax", False)
    # The flow cookie is gone once it has served, and the identity is now linked to the account.
    assert not [c for c in tab.context.cookies() if "oidc" in c["name"]]
    with live_server.context.db.session() as session:
        user = session.get(User, ada_id)
        assert user is not None
        assert user.oidc_subject == subject_key(oidc_provider.issuer, "ada")


def test_an_unknown_email_is_refused_when_auto_create_is_off(
    live_server: LiveServer, oidc_provider: OidcProvider, tab: Page
) -> None:
    tab.goto(f"{live_server.url}/auth/oidc/login")
    sign_in_at_provider(tab, oidc_provider, "stranger")

    expect(tab).to_have_url(re.compile(re.escape(f"{live_server.url}/auth/oidc/callback?")))
    expect(tab.get_by_role("heading", name="Single sign-on failed")).to_be_visible()
    expect(tab.get_by_text("No MeshClaw account uses the email address stranger@example.org")).to_be_visible()
    assert session_cookie(tab) is None
    assert me(tab, live_server)[0] == 401
    with live_server.context.db.session() as session:
        assert session.scalars(select(User).where(User.email == "stranger@example.org")).first() is None


@BOTH_BACKENDS
@pytest.mark.parametrize("oidc_auto_create", [True])
def test_an_unknown_email_becomes_a_member_when_auto_create_is_on(
    live_server: LiveServer, oidc_provider: OidcProvider, tab: Page
) -> None:
    tab.goto(f"{live_server.url}/auth/oidc/login")
    sign_in_at_provider(tab, oidc_provider, "stranger")

    expect(tab).to_have_url(f"{live_server.url}/org")
    status, body = me(tab, live_server)
    assert status == 200
    assert (body["email"], body["name"], body["role"]) == ("stranger@example.org", "Sam Stranger", "member")


@pytest.mark.parametrize("oidc_auto_create", [True])
def test_an_unverified_email_is_refused_even_with_auto_create(
    live_server: LiveServer, oidc_provider: OidcProvider, tab: Page
) -> None:
    tab.goto(f"{live_server.url}/auth/oidc/login")
    sign_in_at_provider(tab, oidc_provider, "unverified")

    expect(tab.get_by_text("has not verified the email address unverified@example.org")).to_be_visible()
    assert me(tab, live_server)[0] == 401


def test_a_tampered_state_is_refused(live_server: LiveServer, oidc_provider: OidcProvider, tab: Page) -> None:
    add_user(live_server, "ada@example.org")
    # Start the sign-in through the browser context's own HTTP client (same cookie jar), so the flow cookie
    # is set, but the browser goes to the provider with a state that MeshClaw did not issue.
    start = tab.request.get(f"{live_server.url}/auth/oidc/login", max_redirects=0)
    assert start.status == 303
    authorize = start.headers["location"]
    assert authorize.startswith(f"{oidc_provider.issuer}/auth?") and "state=" in authorize
    assert "code_challenge_method=S256" in authorize and "nonce=" in authorize
    tab.goto(re.sub(r"state=[^&]+", "state=forged-by-someone-else", authorize))
    sign_in_at_provider(tab, oidc_provider, "ada")

    expect(tab).to_have_url(re.compile(r".*/auth/oidc/callback\?.*state=forged-by-someone-else"))
    expect(tab.get_by_text("state mismatch")).to_be_visible()
    assert session_cookie(tab) is None
    assert me(tab, live_server)[0] == 401
