"""The Clarity API tests' organization (tests.clarity.api_org: teams Big of six and Small of two, an
admin and an auditor, a week of usage and outcomes recorded through the app's own recorder, and a
grinder the detector flags), with passwords so each person can sign in to the web pages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from meshclaw.identity import store
from tests.clarity.api_org import ApiOrg, build
from tests.clarity.conftest import WEEK
from tests.conftest import People, Person
from tests.web.conftest import PASSWORD, csrf_field, password_hash, sign_in

RANGE = f"from={WEEK}&to={WEEK + timedelta(days=6)}"
"""The recorded week, as the page's date picker sends it (both days included)."""


@dataclass
class WebOrg:
    org: ApiOrg
    context: AppContext
    clients: list[TestClient]

    def as_(self, person: Person) -> TestClient:
        """A browser-like client signed in as `person` (its own cookie jar, the same app)."""
        client = TestClient(self.org.client.app)
        self.clients.append(client)
        answer = sign_in(client, person.email, PASSWORD)
        assert answer.status_code == 303, answer.text
        return client

    def csrf(self, client: TestClient) -> str:
        return csrf_field(client.get("/account").text)


def give_passwords(context: AppContext, org_id: int, people: list[Person]) -> None:
    with context.db.session() as session:
        for person in people:
            store.update_user(
                session, store.get_user(session, org_id, person.id), password_hash=password_hash()
            )


@pytest.fixture
def web_org(client: TestClient, context: AppContext, people: People) -> Iterator[WebOrg]:
    org = build(client, context, people)
    give_passwords(context, people.org_id, org.world.people_added)
    web = WebOrg(org=org, context=context, clients=[])
    yield web
    for opened in web.clients:
        opened.close()
