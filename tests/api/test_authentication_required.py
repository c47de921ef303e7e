"""Every endpoint under /api/v1 demands a credential, found by walking the app's routes, not a list.

A route added tomorrow is covered without touching this file (FastAPI >= 0.137 keeps included routers
nested, so the walk uses `fastapi.routing.iter_route_contexts`, as FastAPI's own OpenAPI generator does,
and checks that it sees at least every documented path, so it can never silently walk nothing): without a credential it must answer 401,
with a made-up key 401, and with a real key that lacks the API scopes (a gateway- or ingest-only key)
403. Only the API's own documentation is public.
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from tests.conftest import People

PUBLIC = {"/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/oauth2-redirect"}
CAPABILITY_URLS = {("POST", "/api/v1/hooks/{agent_id}/{token}"), ("POST", "/api/v1/accounts/{name}/inbound")}
"""Routes whose credential is not a MeshClaw key: a secret in the URL (an agent's inbound webhook, for
senders that cannot hold a key) or a signature made with the account's secret (what Slack and webhook
senders send; tests/connectors check the signatures). An unknown one must answer 404, saying nothing about
the agent or account, whatever header comes along."""
IDENTITY_TAGS = {"users", "teams", "keys", "organization"}


def all_routes(client: TestClient) -> list[RouteContext]:
    return list(iter_route_contexts(client.app.routes))  # type: ignore[attr-defined]


def api_routes(client: TestClient) -> list[tuple[str, str, list[str]]]:
    """(method, path template, tags) for every JSON API operation."""
    found: list[tuple[str, str, list[str]]] = []
    for route in all_routes(client):
        path = route.path or ""
        if isinstance(route.original_route, APIRoute) and path.startswith("/api/v1"):
            tags = [str(tag) for tag in route.tags]
            found.extend((method, path, tags) for method in sorted((route.methods or set()) - {"HEAD"}))
    return found


def concrete(path: str, values: dict[str, int]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: str(values.get(m.group(1), 1)), path)


def test_the_walk_finds_the_identity_api(client: TestClient) -> None:
    paths = {(method, path) for method, path, _ in api_routes(client)}
    assert {("GET", "/api/v1/me"), ("GET", "/api/v1/users"), ("POST", "/api/v1/teams")} <= paths
    documented = client.get("/api/v1/openapi.json").json()["paths"]
    for path, operations in documented.items():
        for method in operations:
            assert (method.upper(), path) in paths, f"the walk missed {method.upper()} {path}"


def test_every_api_route_refuses_a_request_without_credentials(client: TestClient) -> None:
    routes = api_routes(client)
    wrong: list[str] = []
    for method, path, _ in routes:
        url = concrete(path, {})
        capability = (method, path) in CAPABILITY_URLS
        for headers in (
            {},
            {"Authorization": "Bearer mc_deadbeef_not-a-real-key"},
            {"Authorization": "Basic x"},
        ):
            answer = client.request(method, url, json={}, headers=headers)
            if capability:
                if answer.status_code != 404:
                    wrong.append(
                        f"{method} {url} (secret URL) with {headers or 'no credential'}: {answer.status_code}"
                    )
            elif answer.status_code != 401 or answer.json()["error"]["code"] != "unauthenticated":
                wrong.append(f"{method} {url} with {headers or 'no credential'}: {answer.status_code}")
    assert not wrong, "\n".join(wrong)


def test_only_the_documentation_is_public(client: TestClient) -> None:
    public = {
        route.path
        for route in all_routes(client)
        if not isinstance(route.original_route, APIRoute) and (route.path or "").startswith("/api/v1")
    }
    assert public <= PUBLIC
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/docs").status_code == 200


@pytest.mark.parametrize("scope", ["gateway", "ingest"])
def test_a_key_without_api_scopes_cannot_use_the_api(client: TestClient, people: People, scope: str) -> None:
    """Even an admin's key, when it was made for the gateway or for telemetry only."""
    admin = people.add(Role.ADMIN, scopes=[scope])
    other = people.add(Role.ADMIN)
    team = people.team("Somewhere")
    values = {"user_id": other.id, "team_id": team, "key_id": 2}
    wrong: list[str] = []
    for method, path, tags in api_routes(client):
        if not IDENTITY_TAGS & set(tags):
            continue
        url = concrete(path, values)
        answer = client.request(method, url, json={}, headers=admin.auth)
        if answer.status_code != 403:
            wrong.append(f"{method} {url}: {answer.status_code} {answer.text[:200]}")
    assert not wrong, "\n".join(wrong)
