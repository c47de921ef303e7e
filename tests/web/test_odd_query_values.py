"""An odd value in any query parameter of any route, page or API (empty, very long, huge or non-finite
numbers, control characters, a date that is not one), is a 4xx or an answer, never a 500.

Routes and their query parameters come from the app itself (FastAPI's dependants), so a parameter added
later is covered. Each is sent alone with each odd value, by an admin (an API key and a signed-in
session both sent), to every GET route; path parameters name things that exist."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from tests.api.test_authentication_required import all_routes
from tests.conftest import People
from tests.web.conftest import WebPeople, signed_in

ODD = [
    "",
    " ",
    "9" * 5000,
    "x" * 5000,
    str(2**70),
    "-" + str(2**70),
    "-1",
    "0",
    "1e309",
    "NaN",
    "ü🙂\u202e\x00",
    "2026-13-45",
]


def test_odd_query_values_are_never_a_500(client: TestClient, people: People, web_people: WebPeople) -> None:
    team_id = people.team("Queriers")
    token = signed_in(client, web_people.add(Role.ADMIN, team_id=team_id))
    admin = people.add(Role.ADMIN, team_id=team_id)
    agent = client.post("/api/v1/agents", json={"spec": {"name": "queried"}}, headers=admin.auth).json()
    things = {"agent_id": agent["agent"]["id"], "user_id": admin.id, "team_id": team_id, "team": team_id}
    headers = {**admin.auth, "X-CSRF-Token": token}
    lenient = TestClient(client.app, raise_server_exceptions=False, cookies=client.cookies)
    sent, wrong = 0, []
    for route in all_routes(client):
        original = route.original_route
        if not isinstance(original, APIRoute) or "GET" not in (route.methods or set()):
            continue
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: str(things.get(m.group(1), 1)), route.path or "")
        for parameter in original.dependant.query_params:
            for value in ODD:
                answer = lenient.get(path, params={parameter.alias: value}, headers=headers)
                sent += 1
                if answer.status_code >= 500 and "runs_engine is off" not in answer.text:
                    wrong.append(f"GET {path}?{parameter.alias}={value[:20]!r}: {answer.status_code}")
    assert sent > 500, f"the walk sent only {sent} requests"
    assert wrong == [], "\n".join(wrong)
