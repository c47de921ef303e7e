"""Single sign-on failures end on a clear page with the right status, never a stack trace or a secret."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import OctKey
from playwright.sync_api import Browser, Page, expect

from meshclaw.clock import FrozenClock
from meshclaw.config import load_settings
from meshclaw.context import AppContext
from meshclaw.identity import store
from meshclaw.server.app import create_app
from tests.conftest import LiveServer, free_port
from tests.oidc.conftest import CLIENT_SECRET, OidcProvider

OTHER_SECRET = "a-different-secret-than-the-provider-knows-0123456789"


@pytest.fixture
def sso_client(tmp_path: Path, database_url: str, runs_engine: bool) -> Iterator[TestClient]:
    """MeshClaw configured for an issuer on a loopback port where nothing listens."""
    settings = load_settings(
        data_dir=tmp_path,
        database_url=database_url,
        oidc_issuer=f"http://127.0.0.1:{free_port()}",
        oidc_client_id="meshclaw",
        oidc_client_secret=CLIENT_SECRET,
        runs_engine=runs_engine,
    )
    context = AppContext.from_settings(settings)
    with context.db.session() as session:
        store.ensure_org(session, name="Test Org", now=context.clock.now())
    with TestClient(create_app(context)) as client:
        yield client
    context.db.dispose()


@pytest.mark.parametrize("path", ["/auth/oidc/login", "/auth/oidc/callback?code=x&state=y"])
def test_without_configuration_both_routes_answer_404_saying_what_to_set(
    client: TestClient, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "MESHCLAW_OIDC_ISSUER" in response.text and "MESHCLAW_OIDC_CLIENT_SECRET" in response.text
    assert "/auth/oidc/callback as a redirect URI" in response.text


def test_a_provider_that_is_down_gives_502_with_what_to_check(sso_client: TestClient) -> None:
    response = sso_client.get("/auth/oidc/login", follow_redirects=False)
    assert response.status_code == 502
    assert "could not be reached" in response.text and "MESHCLAW_OIDC_ISSUER" in response.text
    assert "Traceback" not in response.text


def test_a_callback_without_the_flow_cookie_is_refused(sso_client: TestClient) -> None:
    response = sso_client.get("/auth/oidc/callback?code=abc&state=def")
    assert response.status_code == 400
    assert "expired or was started in another browser" in response.text


@pytest.mark.parametrize(
    ("key", "exp_offset_s"),
    [(b"k" * 32, 600), (None, -1)],
    ids=["signed-with-another-key", "expired"],
)
def test_a_forged_or_expired_flow_cookie_is_refused(
    sso_client: TestClient, key: bytes | None, exp_offset_s: int
) -> None:
    import hashlib
    import hmac

    real_key = hmac.new(CLIENT_SECRET.encode(), b"meshclaw oidc flow cookie v1", hashlib.sha256).digest()
    claims = {
        "state": "s",
        "nonce": "n",
        "verifier": "v" * 50,
        "next": "",
        "exp": int(datetime.now(UTC).timestamp()) + exp_offset_s,
    }
    forged = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(key or real_key))
    sso_client.cookies.set("meshclaw_oidc_flow", forged)
    response = sso_client.get("/auth/oidc/callback?code=abc&state=s")
    assert response.status_code == 400
    assert "expired or was started in another browser" in response.text


def test_a_provider_error_answer_is_shown_without_its_free_text(
    live_server: LiveServer, oidc_provider: OidcProvider
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        start = http.get("/auth/oidc/login")
        assert start.status_code == 303
        state = re.search(r"[?&]state=([^&]+)", start.headers["location"])
        assert state is not None
        response = http.get(
            "/auth/oidc/callback",
            params={"state": state.group(1), "error": "access_denied", "error_description": "<b>pwned</b>"},
        )
    assert response.status_code == 401
    assert "refused the sign-in (access_denied)" in response.text
    assert "pwned" not in response.text


def _sign_in(page: Page, live_server: LiveServer, provider: OidcProvider, login: str) -> None:
    page.goto(f"{live_server.url}/auth/oidc/login")
    expect(page).to_have_url(re.compile(re.escape(provider.issuer) + "/interaction/"))
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any password works here")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


@pytest.fixture
def tab(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.mark.browser
@pytest.mark.parametrize("oidc_client_secret_at_meshclaw", [OTHER_SECRET])
def test_a_refused_code_exchange_is_shown_and_no_secret_leaks(
    live_server: LiveServer, oidc_provider: OidcProvider, tab: Page, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    _sign_in(tab, live_server, oidc_provider, "ada")
    expect(tab.get_by_text("refused to redeem the sign-in (invalid_client)")).to_be_visible()
    code = re.search(r"[?&]code=([^&]+)", tab.url)
    assert code is not None
    page = tab.content()
    # uvicorn's access log (on in this test server, off under `meshclaw up`) records every URL; what
    # MeshClaw and its HTTP clients log must not contain the code or the secret.
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "uvicorn.access")
    assert "refused: invalid_client" in logged
    for secret in (OTHER_SECRET, code.group(1)):
        assert secret not in page
        assert secret not in logged


@pytest.mark.browser
def test_an_expired_id_token_is_refused(
    live_server: LiveServer, oidc_provider: OidcProvider, tab: Page
) -> None:
    # MeshClaw's clock runs two hours ahead: the provider's ID tokens (valid one hour) arrive expired.
    live_server.context.clock = FrozenClock(datetime.now(UTC) + timedelta(hours=2))
    with live_server.context.db.session() as session:
        org = store.get_org(session)
        assert org is not None
        store.create_user(
            session, org_id=org.id, email="ada@example.org", now=live_server.context.clock.now()
        )
    _sign_in(tab, live_server, oidc_provider, "ada")
    expect(tab.get_by_text("ID token failed verification")).to_be_visible()
    expect(tab.get_by_text("expired")).to_be_visible()
    assert tab.request.get(f"{live_server.url}/api/v1/me").status == 401
