"""How errors on web paths read: pages for people, JSON kept for /api, and no sign-in loop under /auth."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from meshclaw.errors import AuthenticationError
from meshclaw.server.errors import install_error_handlers
from meshclaw.web.errors import render_html_error
from meshclaw.web.routes import WEB_PATH_PREFIXES


def _app_raising_at(path: str) -> FastAPI:
    app = FastAPI()

    @app.get(path)
    def fail() -> None:
        raise AuthenticationError("your identity provider did not confirm the email address")

    install_error_handlers(app, dict.fromkeys(WEB_PATH_PREFIXES, render_html_error))
    return app


def test_a_failed_single_sign_on_shows_why_instead_of_redirecting() -> None:
    with TestClient(_app_raising_at("/auth/oidc/callback")) as client:
        answer = client.get("/auth/oidc/callback", follow_redirects=False)
    assert answer.status_code == 401
    assert "Sign-in failed" in answer.text
    assert "Your identity provider did not confirm the email address." in answer.text
    assert 'href="/login"' in answer.text


def test_a_page_that_needs_a_session_redirects_to_sign_in() -> None:
    with TestClient(_app_raising_at("/teams/x")) as client:
        answer = client.get("/teams/x", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/teams/x"


def test_unknown_web_path_is_a_page_and_api_stays_json(client: TestClient) -> None:
    page = client.get("/teams/1/nothing-here")
    assert page.status_code in (404, 405)
    assert page.headers["content-type"].startswith("text/html")
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/json")
    assert client.get("/static/no-such-file.js").headers["content-type"].startswith("text/html")


def test_an_unexpected_failure_is_a_calm_page_with_the_security_headers() -> None:
    app = FastAPI()

    @app.get("/teams/boom")
    def boom() -> None:
        raise RuntimeError("secret detail that must not reach the page")

    install_error_handlers(app, dict.fromkeys(WEB_PATH_PREFIXES, render_html_error))
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/teams/boom")
    assert answer.status_code == 500
    assert "Something went wrong" in answer.text
    assert "secret detail" not in answer.text
    assert answer.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in answer.headers["content-security-policy"]
