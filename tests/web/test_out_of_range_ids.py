"""An id no row can have, in any route's path, is refused with a 4xx naming the parameter, never passed to
the database (whose driver refused it: a 500, and on the public webhook path one anyone could provoke).

Routes are found by walking the app, as tests/api/test_authentication_required.py does, so a route added
later is covered: every method of every route with a path parameter, called by admins (an API key and a
signed-in session both sent) with each parameter set to 2**64 in turn.
"""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from tests.api.test_authentication_required import all_routes
from tests.conftest import People
from tests.web.conftest import WebPeople, signed_in

TOO_BIG = str(2**64)


def test_out_of_range_ids_in_paths_are_refused_before_the_database(
    client: TestClient, people: People, web_people: WebPeople
) -> None:
    token = signed_in(client, web_people.add(Role.ADMIN))  # for the pages
    headers = {**people.add(Role.ADMIN).auth, "X-CSRF-Token": token, "Origin": str(client.base_url)}
    # A 500 is collected with the others rather than raised at the first.
    lenient = TestClient(client.app, raise_server_exceptions=False, cookies=client.cookies)
    called, wrong = 0, []
    for route in all_routes(client):
        path = route.path or ""
        names = re.findall(r"\{(\w+)(?::\w+)?\}", path)
        if not isinstance(route.original_route, APIRoute) or not names:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            for name in names:
                url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m, n=name: TOO_BIG if m.group(1) == n else "1", path)
                answer = lenient.request(method, url, headers=headers, data={"csrf_token": token})
                called += 1
                if answer.status_code == 500:  # (503: a runs engine this test server does not run)
                    wrong.append(f"{method} {url}: {answer.status_code}")
    assert called > 60, "the walk found too few routes with parameters"
    assert wrong == [], "\n".join(wrong)


def test_a_webhook_for_an_impossible_agent_is_refused_plainly(client: TestClient) -> None:
    answer = client.post(f"/api/v1/hooks/{TOO_BIG}/some-token", json={"x": 1})
    assert answer.status_code == 422 and "agent_id" in answer.text
