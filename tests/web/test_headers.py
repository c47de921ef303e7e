"""Security headers on every HTML page, error page and static asset; /api answers as before."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from tests.web.conftest import WebPeople, signed_in

EXPECTED = {
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
}


def _assert_secured(headers: Mapping[str, str]) -> None:
    for name, value in EXPECTED.items():
        assert headers.get(name) == value, name
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy


def test_pages_error_pages_and_assets_carry_security_headers(
    client: TestClient, web_people: WebPeople
) -> None:
    _assert_secured(client.get("/login").headers)
    signed_in(client, web_people.add(Role.ADMIN))
    for path in ("/org", "/teams", "/users", "/account", "/account/keys"):
        page = client.get(path)
        assert page.status_code == 200, path
        _assert_secured(page.headers)
        assert page.headers["cache-control"] == "no-store"
    missing = client.get("/users/987654")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    _assert_secured(missing.headers)
    asset = client.get("/static/htmx.min.js")
    assert asset.status_code == 200
    _assert_secured(asset.headers)


def test_pages_hold_no_inline_script_and_no_outside_links(client: TestClient, web_people: WebPeople) -> None:
    signed_in(client, web_people.add(Role.ADMIN))
    for path in ("/login", "/org", "/teams", "/users", "/account", "/account/keys"):
        html = client.get(path).text
        assert "<script>" not in html and "<script " not in html.replace('<script src="/static/', "")
        assert " on" not in html.replace("\n", " ").lower().split("<body", 1)[1].split(">", 1)[0]
        assert "http://" not in html and "https://" not in html, path


def test_api_keeps_json_errors_and_no_page_headers(client: TestClient) -> None:
    answer = client.get("/api/v1/teams")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthenticated"
    assert "content-security-policy" not in answer.headers
    assert client.get("/healthz").text == "ok"
