"""Request bodies over `max_body_bytes` get 413 before the handler runs, whether the client announces the
size (Content-Length) or streams the body in chunks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from meshclaw.config import Settings, load_settings
from meshclaw.identity.principal import Role
from tests.api.db_state import identity_state
from tests.conftest import People

LIMIT = 2048


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path, database_url=database_url, max_body_bytes=LIMIT)


def test_a_body_over_the_limit_is_413(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    before = identity_state(people.context)
    answer = client.post(
        "/api/v1/users", json={"email": "a@example.org", "name": "x" * (LIMIT + 1)}, headers=admin.auth
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "body_too_large"
    assert str(LIMIT) in answer.json()["error"]["message"]
    assert identity_state(people.context) == before


def test_a_streamed_body_over_the_limit_is_413(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    before = identity_state(people.context)

    def chunks() -> Iterator[bytes]:
        yield b"email,name,team,manager_email,role\n"
        for n in range(200):
            yield f"person{n}@example.org,Person {n},,,member\n".encode()

    answer = client.post(
        "/api/v1/org/import", content=chunks(), headers={**admin.auth, "content-type": "text/csv"}
    )
    assert answer.status_code == 413
    assert identity_state(people.context) == before


def test_a_body_under_the_limit_is_served(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN)
    answer = client.post(
        "/api/v1/users", json={"email": "a@example.org", "name": "x" * 100}, headers=admin.auth
    )
    assert answer.status_code == 201
