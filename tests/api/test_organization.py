"""/api/v1/organization and the API's self-description (OpenAPI)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from tests.api.db_state import counts
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS


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


HEADER = "email,name,team,manager_email,role\n"


@BOTH_BACKENDS
def test_an_admin_imports_a_csv(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    data = (
        HEADER
        + "lead@example.org,Lead,Eng/Platform,,manager\ndev@example.org,Dev,Eng/Platform,lead@example.org,\n"
    )
    answer = client.post(
        "/api/v1/org/import", content=data.encode(), headers={**admin.auth, "content-type": "text/csv"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"users_created": 2, "users_updated": 0, "teams_created": ["Eng", "Platform"]}
    listed = client.get("/api/v1/users", headers=admin.auth).json()
    assert {u["email"] for u in listed["items"]} == {admin.email, "lead@example.org", "dev@example.org"}


def test_an_admin_imports_json_and_updates_with_on_existing(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    rows = [{"email": "a@example.org", "name": "A"}]
    assert client.post("/api/v1/org/import", json=rows, headers=admin.auth).json()["users_created"] == 1
    rows[0]["name"] = "A Renamed"
    assert client.post("/api/v1/org/import", json=rows, headers=admin.auth).status_code == 422
    updated = client.post("/api/v1/org/import?on_existing=update", json=rows, headers=admin.auth)
    assert updated.json()["users_updated"] == 1


@BOTH_BACKENDS
def test_a_rejected_import_lists_every_row_and_writes_nothing(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    bad = "".join(f"bad{n}@@example.org,,,,\n" for n in range(1, 8))
    data = HEADER + "ok@example.org,,NewTeam,,\n" + bad + "x@example.org,,,,wizard\n"
    before = counts(people.context)
    answer = client.post(
        "/api/v1/org/import", content=data.encode(), headers={**admin.auth, "content-type": "text/csv"}
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "import_rejected"
    assert error["total"] == 8
    assert [(r["row"], r["field"]) for r in error["rows"]] == [(n, "email") for n in range(2, 9)] + [
        (9, "role")
    ]
    assert counts(people.context) == before


def test_a_non_utf8_upload_is_rejected_with_its_row(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    data = HEADER.encode() + b"a@example.org,J\xe9r\xf4me,,,\n"
    answer = client.post(
        "/api/v1/org/import", content=data, headers={**admin.auth, "content-type": "text/csv"}
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["rows"] == [
        {"row": 1, "field": "encoding", "message": "not UTF-8 text; save the file as UTF-8 (CSV UTF-8)"}
    ]
