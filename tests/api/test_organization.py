"""/api/v1/organization and the API's self-description (OpenAPI)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from tests.conftest import People


def test_everyone_reads_the_organization(client: TestClient, people: People) -> None:
    member = people.add(Role.MEMBER)
    answer = client.get("/api/v1/organization", headers=member.auth)
    assert answer.status_code == 200
    assert answer.json()["name"] == "Test Org"


def test_the_openapi_document_lists_the_identity_api(client: TestClient) -> None:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    assert document["info"]["title"] == "MeshClaw"
    paths = document["paths"]
    for path in ("/api/v1/me", "/api/v1/users", "/api/v1/users/{user_id}", "/api/v1/teams", "/api/v1/keys"):
        assert path in paths, path
    assert {"get", "post"} <= set(paths["/api/v1/users"])
    assert "text/csv" in paths["/api/v1/org/import"]["post"]["requestBody"]["content"]


def test_an_unknown_api_path_is_404_in_the_error_shape(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    answer = client.get("/api/v1/nothing-here", headers=admin.auth)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
