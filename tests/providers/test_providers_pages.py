"""The /providers admin page through the real app (TestClient), signed in by the form: who sees it, what
the forms change (with and without htmx), CSRF, and that no key value is ever sent back."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from meshclaw.identity.principal import Role
from meshclaw.providers.registry import add_provider, list_providers
from tests.web.conftest import WebPeople, signed_in

HTMX = {"HX-Request": "true"}
SECRET = "sk-page-NEVER-SHOWN-9999"
FORM = {
    "name": "openai",
    "kind": "openai",
    "base_url": "https://api.openai.com/v1",
    "api_key_env": "MC_TEST_PAGE_KEY",
    "models": "gpt-4o, gpt-4o-mini",
}


def as_new(client: TestClient, web_people: WebPeople, role: Role) -> str:
    """Sign in as a new person of `role` (signing out whoever was signed in); their CSRF token."""
    client.cookies.clear()
    return signed_in(client, web_people.add(role))


def _seed(context: AppContext) -> None:
    with context.db.session() as session:
        add_provider(
            session,
            name="local",
            kind="openai-compatible",
            base_url="http://127.0.0.1:11434/v1",
            api_key_env="MC_TEST_LOCAL_KEY",
            models=["llama-3"],
            now=context.clock.now(),
        )


def test_the_page_and_nav_entry_are_for_admins_and_auditors(
    client: TestClient, web_people: WebPeople, context: AppContext
) -> None:
    _seed(context)
    for role in (Role.MEMBER, Role.MANAGER):
        as_new(client, web_people, role)
        assert 'href="/providers"' not in client.get("/org").text
        refused = client.get("/providers")
        assert refused.status_code == 403
        assert "llama-3" not in refused.text
    token = as_new(client, web_people, Role.AUDITOR)
    assert 'href="/providers"' in client.get("/org").text
    page = client.get("/providers")
    assert page.status_code == 200
    assert "llama-3" in page.text and "MC_TEST_LOCAL_KEY" in page.text
    assert "Add a provider" not in page.text and "/providers/local/disable" not in page.text
    post = client.post("/providers/local/disable", data={"csrf_token": token}, headers=HTMX)
    assert post.status_code == 403
    with context.db.session() as session:
        assert list_providers(session)[0].enabled


def test_admin_adds_disables_and_removes_with_htmx(
    client: TestClient, web_people: WebPeople, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MC_TEST_PAGE_KEY", SECRET)
    token = signed_in(client, web_people.add(Role.ADMIN))
    page = client.get("/providers")
    assert page.status_code == 200 and "No providers yet" in page.text
    added = client.post("/providers", data={**FORM, "csrf_token": token}, headers=HTMX)
    assert added.status_code == 200, added.text
    assert added.text.startswith('<section id="providers-panel">')
    assert "Provider openai added" in added.text
    assert "gpt-4o-mini" in added.text and ">set<" in added.text
    assert SECRET not in added.text

    disabled = client.post("/providers/openai/disable", data={"csrf_token": token}, headers=HTMX)
    assert "Provider openai disabled" in disabled.text
    with context.db.session() as session:
        assert not list_providers(session)[0].enabled
    enabled = client.post("/providers/openai/enable", data={"csrf_token": token}, headers=HTMX)
    assert "Provider openai enabled" in enabled.text
    removed = client.post("/providers/openai/remove", data={"csrf_token": token}, headers=HTMX)
    assert "Provider openai removed" in removed.text
    with context.db.session() as session:
        assert list_providers(session) == []
    assert SECRET not in client.get("/providers").text


def test_without_javascript_a_change_redirects_and_an_error_rerenders_the_page(
    client: TestClient, web_people: WebPeople, context: AppContext
) -> None:
    token = signed_in(client, web_people.add(Role.ADMIN))
    done = client.post("/providers", data={**FORM, "csrf_token": token}, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/providers?notice=added")
    assert "Provider added." in client.get("/providers?notice=added").text
    clash = client.post("/providers", data={**FORM, "name": "other", "models": "gpt-4o", "csrf_token": token})
    assert clash.status_code == 409
    assert "Model &#39;gpt-4o&#39; is already served by provider &#39;openai&#39;" in clash.text
    assert 'value="other"' in clash.text  # the form keeps what was typed


def test_a_pasted_key_is_refused_and_never_sent_back(client: TestClient, web_people: WebPeople) -> None:
    token = signed_in(client, web_people.add(Role.ADMIN))
    for field, value in (("api_key_env", SECRET), ("base_url", f"https://me:{SECRET}@api.example.com/v1")):
        answer = client.post("/providers", data={**FORM, field: value, "csrf_token": token}, headers=HTMX)
        assert answer.status_code == 422
        assert "never the key itself" in answer.text or "must not contain credentials" in answer.text
        assert SECRET not in answer.text


def test_changes_need_the_csrf_token(client: TestClient, web_people: WebPeople, context: AppContext) -> None:
    _seed(context)
    signed_in(client, web_people.add(Role.ADMIN))
    assert client.post("/providers", data=FORM).status_code == 403
    assert client.post("/providers/local/remove", data={"csrf_token": "forged"}).status_code == 403
    with context.db.session() as session:
        assert [p.name for p in list_providers(session)] == ["local"]
