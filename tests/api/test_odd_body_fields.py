"""An odd value in a request body (null, empty, very long, huge or non-finite numbers, the wrong type) is
answered like any other invalid value (a 4xx that names what to fix) or taken as "none" where the field
allows it, never a 500. Found when `PUT /api/v1/clarity/settings {"weekly_goal": null}` reached the range
checks.

Walks the API's own OpenAPI schema: every property of every JSON request body, sent alone with each odd
value (and once the whole body as null), by an admin, to every operation that takes a body. Path
parameters name things that exist (the admin, their team, an agent, a budget, a provider, ...), so
handlers get past their look-ups to the code an odd value could reach."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from tests.conftest import People, Person


def _body_properties(operation: dict[str, Any], components: dict[str, Any]) -> list[str] | None:
    """The JSON body's top-level property names, or None when the operation takes no JSON body."""
    media = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if media is None:
        return None
    schema = media.get("schema", {})
    ref = schema.get("$ref")
    if ref:
        schema = components[ref.rsplit("/", 1)[1]]
    return sorted(schema.get("properties", {}))


def _things(client: TestClient, admin: Person, team_id: int) -> dict[str, str]:
    """Values for path parameters, by name: ids of things that exist."""

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = client.post(path, json=body, headers=admin.auth)
        assert answer.status_code == 201, f"{path}: {answer.status_code} {answer.text}"
        created: dict[str, Any] = answer.json()
        return created

    agent_id = post("/api/v1/agents", {"spec": {"name": "walker"}})["agent"]["id"]
    budget_id = post(
        "/api/v1/budgets",
        {"subject_type": "user", "subject": admin.id, "unit": "usd", "amount": 5, "period": "day"},
    )["id"]
    post(
        "/api/v1/providers",
        {
            "name": "walked",
            "kind": "openai-compatible",
            "base_url": "http://127.0.0.1:9/v1",
            "models": ["m1"],
        },
    )
    return {
        "agent_id": str(agent_id),
        "user_id": str(admin.id),
        "team_id": str(team_id),
        "team": str(team_id),
        "budget_id": str(budget_id),
        "name": "walked",
    }


ODD: list[Any] = [
    None,
    "",
    "x" * 5000,
    "9" * 5000,
    2**70,
    -(2**70),
    1e308,
    math.nan,
    [],
    {},
    True,
    "ü🙂\u202e\x00",
]
"""None first: an explicit null, where leaving the field out keeps its value, was the first one found."""


@pytest.mark.runs_engine  # so the runs routes get past "runs_engine is off" to their own checks
def test_odd_values_in_any_body_field_are_never_a_500(client: TestClient, people: People) -> None:
    team_id = people.team("Walkers")
    admin = people.add(Role.ADMIN, team_id=team_id)
    things = _things(client, admin, team_id)
    openapi = client.get("/api/v1/openapi.json").json()
    components = openapi["components"]["schemas"]
    lenient = TestClient(client.app, raise_server_exceptions=False)  # every 500 listed, not the first raised
    headers = {**admin.auth, "content-type": "application/json"}
    sent, missed, failures = 0, 0, []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            properties = _body_properties(operation, components)
            if properties is None:
                continue
            url = re.sub(r"\{(\w+)\}", lambda m: things.get(m.group(1), "1"), path)
            bodies: list[Any] = [None, *({name: value} for name in properties for value in ODD)]
            for body in bodies:
                # json.dumps writes NaN as the bare token, which httpx's own encoder refuses to send.
                answer = lenient.request(method.upper(), url, content=json.dumps(body), headers=headers)
                sent += 1
                missed += answer.status_code == 404
                if answer.status_code >= 500:
                    failures.append(f"{method.upper()} {url} {str(body)[:80]}: {answer.status_code}")
    assert sent > 1000 and missed < sent / 4  # the walk reached the API's handlers, not only its 404s
    assert failures == [], "\n".join(failures)
