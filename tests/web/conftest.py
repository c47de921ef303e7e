"""Helpers for web tests: people who can sign in with a password, and signing in through the real form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from httpx2 import Response  # what Starlette's TestClient returns

from meshclaw.context import AppContext
from meshclaw.identity import store
from meshclaw.identity.principal import Role
from tests.conftest import People, Person

PASSWORD = "correct horse battery staple"
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@cache
def password_hash() -> str:
    """`PASSWORD` hashed once per session, with argon2id's smallest parameters.

    Signing in checks it with the production code (argon2 reads the parameters from the stored hash), in
    a millisecond rather than the production profile's 0.3-1.5 s per hash and again per sign-in on the
    test machine. Setting a password through the app (forms, API, CLI) still hashes with the production
    profile, and those tests sign in with what they set.
    """
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)


def csrf_field(html: str) -> str:
    """The hidden csrf_token of the first form on a page."""
    found = _CSRF_FIELD.search(html)
    assert found, "the page has no csrf_token field"
    return found.group(1)


@dataclass(frozen=True)
class WebPerson:
    id: int
    email: str
    role: Role


class WebPeople:
    """People with a password, so they can use the sign-in form."""

    def __init__(self, context: AppContext, people: People) -> None:
        self.context = context
        self.people = people

    def add(
        self, role: Role = Role.MEMBER, *, team_id: int | None = None, manager_id: int | None = None
    ) -> WebPerson:
        person = self.people.add(role, team_id=team_id, manager_id=manager_id)
        with self.context.db.session() as session:
            user = store.get_user(session, self.people.org_id, person.id)
            store.update_user(session, user, password_hash=password_hash())
        return WebPerson(id=person.id, email=person.email, role=role)


@pytest.fixture
def web_people(context: AppContext, people: People) -> WebPeople:
    return WebPeople(context, people)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, *, next_path: str = "") -> Response:
    """Open the login form (which sets the double-submit cookie) and post it; redirects not followed."""
    form = client.get("/login", follow_redirects=False)
    assert form.status_code == 200, form.text
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_field(form.text), "next": next_path},
        follow_redirects=False,
    )


def signed_in(client: TestClient, person: WebPerson) -> str:
    """Sign `person` in and return the session's CSRF token (read from a page, as a browser would)."""
    answer = sign_in(client, person.email)
    assert answer.status_code == 303, answer.text
    return csrf_field(client.get("/account").text)


def person_in_live_org(context: AppContext) -> tuple[int, Person]:
    """The organization a live server made at its first start, and a member of it with an API key and the
    sign-in form's password: whom a browser test signs in as."""
    with context.db.session() as session:
        org = store.get_org(session)
        assert org is not None
        org_id = org.id
    person = People(context, org_id).add()
    with context.db.session() as session:
        store.update_user(session, store.get_user(session, org_id, person.id), password_hash=password_hash())
    return org_id, person
