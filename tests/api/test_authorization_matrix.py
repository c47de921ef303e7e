"""The authorization matrix, through the real HTTP API on SQLite and PostgreSQL.

Every role (member, manager, auditor, admin) tries every action (read, create, update, manage, delete) on
every resource kind (organization, team, user, api_key, usage, price, provider, budget), against its own things, a person in the team it
would manage, and a person outside it. The expected answers are written out below by hand, from the role
table in README.md; they are deliberately NOT computed from `meshclaw.identity.authorize`, or the test
could never disagree with it. After every refusal the identity tables must be exactly as before; after
every allowed change they must differ.

Answers: 200/201/204 allowed; 403 refused for something the caller may see; 404 refused for something the
caller may not even see (so ids leak nothing); 405 where no endpoint exists for that action (users are
deactivated, never deleted; the organization and keys are not edited), so a new endpoint cannot appear
without a row here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import count
from typing import Any, Literal

import pytest
from fastapi.testclient import TestClient

from meshclaw.db.models import ClarityDetectionRun, ClarityFlag
from meshclaw.identity import store
from meshclaw.identity.principal import Role
from meshclaw.limits import store as limits_store
from meshclaw.providers.registry import add_provider
from tests.api.db_state import identity_state
from tests.conftest import People, Person
from tests.postgres import BOTH_BACKENDS

Relation = Literal["own", "teammate", "report", "outsider", "-"]
"""own: the caller's own user or key; teammate: a person in the caller's own team; report: a person in a
team below the caller's team (a manager manages both); outsider: a person in an unrelated team; "-": a
collection or the organization."""

ROLES = (Role.MEMBER, Role.MANAGER, Role.AUDITOR, Role.ADMIN)

# (resource, action, relation) -> status for (member, manager, auditor, admin)
EXPECTED: dict[tuple[str, str, Relation], tuple[int, int, int, int]] = {
    # organization
    ("organization", "read", "-"): (200, 200, 200, 200),
    ("organization", "create", "-"): (405, 405, 405, 405),
    ("organization", "update", "-"): (405, 405, 405, 405),
    ("organization", "manage", "-"): (403, 403, 403, 200),  # POST /org/import
    ("organization", "delete", "-"): (405, 405, 405, 405),
    # teams: names are visible to everyone, only admins change the tree
    ("team", "read", "-"): (200, 200, 200, 200),
    ("team", "create", "-"): (403, 403, 403, 201),
    ("team", "update", "-"): (403, 403, 403, 200),  # rename
    ("team", "manage", "-"): (403, 403, 403, 200),  # move under another parent
    ("team", "delete", "-"): (403, 403, 403, 204),
    # users
    ("user", "read", "own"): (200, 200, 200, 200),
    ("user", "read", "teammate"): (404, 200, 200, 200),
    ("user", "read", "report"): (404, 200, 200, 200),
    ("user", "read", "outsider"): (404, 404, 200, 200),
    ("user", "create", "-"): (403, 403, 403, 201),
    ("user", "update", "own"): (200, 200, 200, 200),
    ("user", "update", "teammate"): (404, 403, 403, 200),
    ("user", "update", "report"): (404, 403, 403, 200),
    ("user", "update", "outsider"): (404, 404, 403, 200),
    ("user", "manage", "own"): (403, 403, 403, 200),
    ("user", "manage", "teammate"): (404, 403, 403, 200),
    ("user", "manage", "report"): (404, 403, 403, 200),
    ("user", "manage", "outsider"): (404, 404, 403, 200),
    ("user", "delete", "own"): (405, 405, 405, 405),
    ("user", "delete", "report"): (405, 405, 405, 405),
    ("user", "delete", "outsider"): (405, 405, 405, 405),
    # API keys: everyone manages their own; auditors see all; only admins act on others' keys
    ("api_key", "read", "own"): (200, 200, 200, 200),
    ("api_key", "read", "teammate"): (200, 200, 200, 200),  # but see VISIBLE_KEY_OWNERS
    ("api_key", "read", "report"): (200, 200, 200, 200),
    ("api_key", "read", "outsider"): (200, 200, 200, 200),
    ("api_key", "create", "own"): (201, 201, 201, 201),
    ("api_key", "create", "teammate"): (403, 403, 403, 201),
    ("api_key", "create", "report"): (403, 403, 403, 201),
    ("api_key", "create", "outsider"): (403, 403, 403, 201),
    ("api_key", "update", "own"): (405, 405, 405, 405),
    ("api_key", "manage", "own"): (405, 405, 405, 405),
    ("api_key", "delete", "own"): (200, 200, 200, 200),
    ("api_key", "delete", "teammate"): (404, 404, 403, 200),
    ("api_key", "delete", "report"): (404, 404, 403, 200),
    ("api_key", "delete", "outsider"): (404, 404, 403, 200),
    # usage: members see their own, managers their team subtree, auditors and admins everyone; a filter
    # naming someone out of reach is refused (403), never answered with an empty list. Read-only.
    ("usage", "read", "own"): (200, 200, 200, 200),
    ("usage", "read", "teammate"): (403, 200, 200, 200),
    ("usage", "read", "report"): (403, 200, 200, 200),
    ("usage", "read", "outsider"): (403, 403, 200, 200),
    ("usage", "create", "-"): (405, 405, 405, 405),
    ("usage", "update", "-"): (405, 405, 405, 405),
    ("usage", "manage", "-"): (405, 405, 405, 405),
    ("usage", "delete", "-"): (405, 405, 405, 405),
    # prices: everyone reads them; only admins add a version; versions are never edited or deleted
    ("price", "read", "-"): (200, 200, 200, 200),
    ("price", "create", "-"): (403, 403, 403, 201),
    ("price", "update", "-"): (405, 405, 405, 405),
    ("price", "manage", "-"): (405, 405, 405, 405),
    ("price", "delete", "-"): (405, 405, 405, 405),
    # providers: admins configure the model upstreams, auditors read them, others neither; PATCH changes
    # fields (enabled, models, base URL, key variable), there is nothing "manage" would mean beyond that
    ("provider", "read", "-"): (403, 403, 200, 200),
    ("provider", "create", "-"): (403, 403, 403, 201),
    ("provider", "update", "-"): (403, 403, 403, 200),
    ("provider", "manage", "-"): (405, 405, 405, 405),
    ("provider", "delete", "-"): (403, 403, 403, 204),
    # budgets: everyone lists those that apply to them (managers: their teams' people too; see
    # VISIBLE_BUDGETS), only admins set and remove them; POST replaces, so there is no PATCH or PUT
    ("budget", "read", "own"): (200, 200, 200, 200),
    ("budget", "read", "teammate"): (200, 200, 200, 200),
    ("budget", "read", "report"): (200, 200, 200, 200),
    ("budget", "read", "outsider"): (200, 200, 200, 200),
    ("budget", "create", "own"): (403, 403, 403, 201),
    ("budget", "create", "teammate"): (403, 403, 403, 201),
    ("budget", "create", "outsider"): (403, 403, 403, 201),
    ("budget", "update", "own"): (405, 405, 405, 405),
    ("budget", "manage", "own"): (405, 405, 405, 405),
    ("budget", "delete", "own"): (403, 403, 403, 204),
    ("budget", "delete", "teammate"): (404, 403, 403, 204),
    ("budget", "delete", "report"): (404, 403, 403, 204),
    ("budget", "delete", "outsider"): (404, 404, 403, 204),
    # clarity: a person's numbers as usage (own / team subtree / all); a team's aggregates to its members,
    # managers, auditors and admins, but a team under 5 people (all of these) only to those who may see its
    # people; flags listed to everyone (filtered: see VISIBLE_FLAGS), reviewed by auditors and admins only;
    # settings read by everyone, changed by admins (PUT replaces the fields given)
    ("clarity", "read", "own"): (200, 200, 200, 200),
    ("clarity", "read", "teammate"): (403, 200, 200, 200),
    ("clarity", "read", "report"): (403, 200, 200, 200),
    ("clarity", "read", "outsider"): (403, 403, 200, 200),
    ("clarity", "create", "-"): (405, 405, 405, 405),
    ("clarity", "update", "-"): (405, 405, 405, 405),
    ("clarity", "manage", "-"): (405, 405, 405, 405),
    ("clarity", "delete", "-"): (405, 405, 405, 405),
    ("clarity_team", "read", "own"): (403, 200, 200, 200),  # Engineering has 2 people: under 5
    ("clarity_team", "read", "report"): (403, 200, 200, 200),
    ("clarity_team", "read", "outsider"): (403, 403, 200, 200),
    ("clarity_team", "create", "-"): (405, 405, 405, 405),
    ("clarity_team", "update", "-"): (405, 405, 405, 405),
    ("clarity_team", "manage", "-"): (405, 405, 405, 405),
    ("clarity_team", "delete", "-"): (405, 405, 405, 405),
    ("clarity_flag", "read", "own"): (200, 200, 200, 200),
    ("clarity_flag", "read", "teammate"): (200, 200, 200, 200),
    ("clarity_flag", "read", "outsider"): (200, 200, 200, 200),
    ("clarity_flag", "create", "-"): (405, 405, 405, 405),
    ("clarity_flag", "update", "own"): (403, 403, 200, 200),
    ("clarity_flag", "update", "teammate"): (403, 403, 200, 200),
    ("clarity_flag", "update", "report"): (403, 403, 200, 200),
    ("clarity_flag", "update", "outsider"): (403, 403, 200, 200),
    ("clarity_flag", "manage", "-"): (405, 405, 405, 405),
    ("clarity_flag", "delete", "-"): (405, 405, 405, 405),
    ("clarity_settings", "read", "-"): (200, 200, 200, 200),
    ("clarity_settings", "create", "-"): (405, 405, 405, 405),
    ("clarity_settings", "update", "-"): (405, 405, 405, 405),
    ("clarity_settings", "manage", "-"): (403, 403, 403, 200),
    ("clarity_settings", "delete", "-"): (405, 405, 405, 405),
}

# GET /clarity/flags after a flag was stored about the relation's person: whether it is listed, per role.
VISIBLE_FLAGS: dict[Role, set[Relation]] = {
    Role.MEMBER: {"own"},
    Role.MANAGER: {"own"},
    Role.AUDITOR: {"own", "teammate", "report", "outsider"},
    Role.ADMIN: {"own", "teammate", "report", "outsider"},
}

# GET /budgets after a budget was set on the relation's person: whether it is listed, per role.
VISIBLE_BUDGETS: dict[Role, set[Relation]] = {
    Role.MEMBER: {"own"},
    Role.MANAGER: {"own", "teammate", "report"},
    Role.AUDITOR: {"own", "teammate", "report", "outsider"},
    Role.ADMIN: {"own", "teammate", "report", "outsider"},
}

# GET /keys?user_id=<relation's person>: whose keys come back, per role (non-auditors only ever see theirs).
VISIBLE_KEY_OWNERS: dict[Role, dict[Relation, set[Relation]]] = {
    Role.MEMBER: {"own": {"own"}, "teammate": {"own"}, "report": {"own"}, "outsider": {"own"}},
    Role.MANAGER: {"own": {"own"}, "teammate": {"own"}, "report": {"own"}, "outsider": {"own"}},
    Role.AUDITOR: {"own": {"own"}, "teammate": {"teammate"}, "report": {"report"}, "outsider": {"outsider"}},
    Role.ADMIN: {"own": {"own"}, "teammate": {"teammate"}, "report": {"report"}, "outsider": {"outsider"}},
}

# GET /users: which of the world's people are listed, per role.
VISIBLE_USERS: dict[Role, set[str]] = {
    Role.MEMBER: {"own"},
    Role.MANAGER: {"own", "teammate", "report"},
    Role.AUDITOR: {"own", "teammate", "report", "outsider", "other_admin"},
    Role.ADMIN: {"own", "teammate", "report", "outsider", "other_admin"},
}


@dataclass
class World:
    people: People
    actor: Person
    teammate: Person
    report: Person
    outsider: Person
    other_admin: Person
    """Another admin, so an admin actor is never the last one."""
    eng: int
    platform: int
    sales: int
    serial: count[int]

    def person(self, relation: Relation) -> Person:
        people = {
            "own": self.actor,
            "teammate": self.teammate,
            "report": self.report,
            "outsider": self.outsider,
        }
        return people[relation]

    def unique(self, stem: str) -> str:
        return f"{stem}{next(self.serial)}"

    def new_key(self, owner: Person) -> int:
        context = self.people.context
        with context.db.session() as session:
            key, _ = store.create_key(
                session,
                org_id=self.people.org_id,
                owner_user_id=owner.id,
                name="victim",
                now=context.clock.now(),
            )
            return key.id

    def new_budget(self, person: Person) -> int:
        """A fresh budget on `person` (a new amount each time, so a replaced one differs too)."""
        context = self.people.context
        with context.db.session() as session:
            subject = limits_store.resolve_subject(session, "user", person.id)
            budget, _ = limits_store.set_budget(
                session,
                subject=subject,
                unit="requests",
                period="minute",
                enforcement="hard",
                amount=1_000 + next(self.serial),
                created_by_user_id=None,
                now=context.clock.now(),
            )
            return budget.id

    def new_flag(self, person: Person) -> int:
        """A fresh open flag about `person`, in a week long past (listing recent weeks never re-scores it)."""
        context = self.people.context
        with context.db.session() as session:
            row = ClarityFlag(
                week_start=date(2026, 1, 5),
                subject_key=f"person:{person.id}#{next(self.serial)}",  # unique per week, as the table wants
                kind="person",
                subject=person.email,
                user_id=person.id,
                agent_id=None,
                pattern="low_yield",
                score=1.0,
                signals=[{"name": "low_yield", "value": 0.0, "baseline": 1.0, "description": "test"}],
                explanation="test",
                evidence=[],
                status="open",
                detected_at=context.clock.now(),
            )
            session.add(row)
            # Scored after it ended: listing the week reads the stored flags instead of scoring it again.
            session.merge(
                ClarityDetectionRun(
                    week_start=date(2026, 1, 5), ran_at=datetime(2026, 1, 13, tzinfo=UTC), flags=1
                )
            )
            session.flush()
            return row.id

    def new_provider(self) -> str:
        context = self.people.context
        name = self.unique("upstream-")
        with context.db.session() as session:
            add_provider(
                session,
                name=name,
                kind="openai-compatible",
                base_url="http://127.0.0.1:9/v1",
                api_key_env=None,
                models=[f"{name}-model"],
                now=context.clock.now(),
            )
        return name


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] | None = None


Builder = Callable[[World, Relation], Call]
"""Prepares whatever the case needs (a fresh team or key) and returns the request to send."""


def _user_path(world: World, relation: Relation) -> str:
    return f"/api/v1/users/{world.person(relation).id}"


def _new_empty_team(world: World, relation: Relation) -> Call:
    team_id = world.people.team(world.unique("Doomed "))
    return Call("DELETE", f"/api/v1/teams/{team_id}")


def _fresh_key_delete(world: World, relation: Relation) -> Call:
    return Call("DELETE", f"/api/v1/keys/{world.new_key(world.person(relation))}")


def _import(world: World, relation: Relation) -> Call:
    csv = f"email,name,team,manager_email,role\n{world.unique('imported')}@example.org,Imported,,,member\n"
    return Call("POST", "/api/v1/org/import", content=csv.encode(), headers={"content-type": "text/csv"})


BUILDERS: dict[tuple[str, str], Builder] = {
    ("organization", "read"): lambda w, r: Call("GET", "/api/v1/organization"),
    ("organization", "create"): lambda w, r: Call("POST", "/api/v1/organization", json={"name": "X"}),
    ("organization", "update"): lambda w, r: Call("PATCH", "/api/v1/organization", json={"name": "X"}),
    ("organization", "manage"): _import,
    ("organization", "delete"): lambda w, r: Call("DELETE", "/api/v1/organization"),
    ("team", "read"): lambda w, r: Call("GET", f"/api/v1/teams/{w.sales}"),
    ("team", "create"): lambda w, r: Call(
        "POST", "/api/v1/teams", json={"name": w.unique("New team "), "parent_id": w.eng}
    ),
    ("team", "update"): lambda w, r: Call(
        "PATCH", f"/api/v1/teams/{w.sales}", json={"name": w.unique("Sales ")}
    ),
    ("team", "manage"): lambda w, r: Call(
        "PATCH", f"/api/v1/teams/{w.people.team(w.unique('Loose '))}", json={"parent_id": w.sales}
    ),
    ("team", "delete"): _new_empty_team,
    ("user", "read"): lambda w, r: Call("GET", _user_path(w, r)),
    ("user", "create"): lambda w, r: Call(
        "POST", "/api/v1/users", json={"email": f"{w.unique('new')}@example.org", "team_id": w.platform}
    ),
    ("user", "update"): lambda w, r: Call("PATCH", _user_path(w, r), json={"name": w.unique("Renamed ")}),
    # A manager change is a `manage` field; pointing at the other admin never closes a cycle.
    ("user", "manage"): lambda w, r: Call("PATCH", _user_path(w, r), json={"manager_id": w.other_admin.id}),
    ("user", "delete"): lambda w, r: Call("DELETE", _user_path(w, r)),
    ("api_key", "read"): lambda w, r: Call("GET", f"/api/v1/keys?user_id={w.person(r).id}"),
    ("api_key", "create"): lambda w, r: Call(
        "POST", "/api/v1/keys", json={"name": w.unique("key "), "user_id": w.person(r).id}
    ),
    ("api_key", "update"): lambda w, r: Call(
        "PATCH", f"/api/v1/keys/{w.new_key(w.person(r))}", json={"name": "renamed"}
    ),
    ("api_key", "manage"): lambda w, r: Call(
        "PATCH", f"/api/v1/keys/{w.new_key(w.person(r))}", json={"scopes": ["gateway"]}
    ),
    ("api_key", "delete"): _fresh_key_delete,
    ("usage", "read"): lambda w, r: Call("GET", f"/api/v1/usage/summary?user={w.person(r).id}"),
    ("usage", "create"): lambda w, r: Call("POST", "/api/v1/usage", json={}),
    ("usage", "update"): lambda w, r: Call("PATCH", "/api/v1/usage", json={}),
    ("usage", "manage"): lambda w, r: Call("PUT", "/api/v1/usage", json={}),
    ("usage", "delete"): lambda w, r: Call("DELETE", "/api/v1/usage"),
    ("price", "read"): lambda w, r: Call("GET", "/api/v1/prices"),
    ("price", "create"): lambda w, r: Call(
        "POST", "/api/v1/prices", json={"model": w.unique("model-"), "input_uncached": 1, "output": 2}
    ),
    ("price", "update"): lambda w, r: Call("PATCH", "/api/v1/prices", json={}),
    ("price", "manage"): lambda w, r: Call("PUT", "/api/v1/prices", json={}),
    ("price", "delete"): lambda w, r: Call("DELETE", "/api/v1/prices"),
    ("budget", "read"): lambda w, r: Call("GET", f"/api/v1/budgets?_={w.new_budget(w.person(r))}"),
    ("budget", "create"): lambda w, r: Call(
        "POST",
        "/api/v1/budgets",
        json={
            "subject_type": "user",
            "subject": w.person(r).email,
            "unit": "usd",
            "period": "day",
            "amount": 5,
        },
    ),
    ("budget", "update"): lambda w, r: Call(
        "PATCH", f"/api/v1/budgets/{w.new_budget(w.person(r))}", json={"amount": 1}
    ),
    ("budget", "manage"): lambda w, r: Call("PUT", f"/api/v1/budgets/{w.new_budget(w.person(r))}", json={}),
    ("budget", "delete"): lambda w, r: Call("DELETE", f"/api/v1/budgets/{w.new_budget(w.person(r))}"),
    ("provider", "read"): lambda w, r: Call("GET", "/api/v1/providers"),
    ("provider", "create"): lambda w, r: Call(
        "POST",
        "/api/v1/providers",
        json={
            "name": w.unique("new-upstream-"),
            "kind": "openai",
            "base_url": "https://api.openai.com/v1",
            "models": [w.unique("new-model-")],
        },
    ),
    ("provider", "update"): lambda w, r: Call(
        "PATCH", f"/api/v1/providers/{w.new_provider()}", json={"enabled": False}
    ),
    ("provider", "manage"): lambda w, r: Call("PUT", f"/api/v1/providers/{w.new_provider()}", json={}),
    ("provider", "delete"): lambda w, r: Call("DELETE", f"/api/v1/providers/{w.new_provider()}"),
    ("clarity", "read"): lambda w, r: Call("GET", f"/api/v1/clarity/outcomes?user={w.person(r).id}"),
    ("clarity", "create"): lambda w, r: Call("POST", "/api/v1/clarity/outcomes", json={}),
    ("clarity", "update"): lambda w, r: Call("PATCH", "/api/v1/clarity/outcomes", json={}),
    ("clarity", "manage"): lambda w, r: Call("PUT", "/api/v1/clarity/outcomes", json={}),
    ("clarity", "delete"): lambda w, r: Call("DELETE", "/api/v1/clarity/outcomes"),
    ("clarity_team", "read"): lambda w, r: Call(
        "GET", f"/api/v1/clarity/adoption?team={w.person(r).team_id}"
    ),
    ("clarity_team", "create"): lambda w, r: Call("POST", "/api/v1/clarity/adoption", json={}),
    ("clarity_team", "update"): lambda w, r: Call("PATCH", "/api/v1/clarity/adoption", json={}),
    ("clarity_team", "manage"): lambda w, r: Call("PUT", "/api/v1/clarity/adoption", json={}),
    ("clarity_team", "delete"): lambda w, r: Call("DELETE", "/api/v1/clarity/adoption"),
    ("clarity_flag", "read"): lambda w, r: Call(
        "GET", f"/api/v1/clarity/flags?since=2026-01-05&until=2026-01-12&_={w.new_flag(w.person(r))}"
    ),
    ("clarity_flag", "create"): lambda w, r: Call("POST", "/api/v1/clarity/flags", json={}),
    ("clarity_flag", "update"): lambda w, r: Call(
        "POST",
        f"/api/v1/clarity/flags/{w.new_flag(w.person(r))}/review",
        json={"status": "dismissed", "note": w.unique("reviewed ")},
    ),
    ("clarity_flag", "manage"): lambda w, r: Call("PUT", "/api/v1/clarity/flags", json={}),
    ("clarity_flag", "delete"): lambda w, r: Call("DELETE", "/api/v1/clarity/flags"),
    ("clarity_settings", "read"): lambda w, r: Call("GET", "/api/v1/clarity/settings"),
    ("clarity_settings", "create"): lambda w, r: Call("POST", "/api/v1/clarity/settings", json={}),
    ("clarity_settings", "update"): lambda w, r: Call("PATCH", "/api/v1/clarity/settings", json={}),
    ("clarity_settings", "manage"): lambda w, r: Call(
        "PUT", "/api/v1/clarity/settings", json={"weekly_goal": 0.5 + next(w.serial) / 1000}
    ),
    ("clarity_settings", "delete"): lambda w, r: Call("DELETE", "/api/v1/clarity/settings"),
}


def build_world(people: People, role: Role) -> World:
    eng = people.team("Engineering")
    platform = people.team("Platform", parent_id=eng)
    sales = people.team("Sales")
    other_admin = people.add(Role.ADMIN, team_id=sales, email="other-admin@example.org")
    actor = people.add(role, team_id=eng, email="actor@example.org")
    teammate = people.add(Role.MEMBER, team_id=eng, email="teammate@example.org")
    report = people.add(Role.MEMBER, team_id=platform, email="report@example.org")
    outsider = people.add(Role.MEMBER, team_id=sales, email="outsider@example.org")
    return World(people, actor, teammate, report, outsider, other_admin, eng, platform, sales, count(1))


def send(client: TestClient, actor: Person, call: Call) -> tuple[int, Any]:
    headers = {**actor.auth, **(call.headers or {})}
    response = client.request(call.method, call.path, json=call.json, content=call.content, headers=headers)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return response.status_code, body


def test_the_table_covers_every_role_resource_and_action() -> None:
    for resource in (
        "organization",
        "team",
        "user",
        "api_key",
        "usage",
        "price",
        "provider",
        "budget",
        "clarity",
        "clarity_team",
        "clarity_flag",
        "clarity_settings",
    ):
        for action in ("read", "create", "update", "manage", "delete"):
            rows = [key for key in EXPECTED if key[:2] == (resource, action)]
            assert rows, f"no expectation for {resource} {action}"
            assert (resource, action) in BUILDERS


@BOTH_BACKENDS
@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_authorization_matrix(client: TestClient, people: People, role: Role) -> None:
    world = build_world(people, role)
    context = people.context
    mismatches: list[str] = []
    for (resource, action, relation), statuses in EXPECTED.items():
        expected = statuses[ROLES.index(role)]
        call = BUILDERS[(resource, action)](world, relation)
        before = identity_state(context)
        status, body = send(client, world.actor, call)
        after = identity_state(context)
        where = f"{role.value} {action} {resource} ({relation}): {call.method} {call.path}"
        if status != expected:
            mismatches.append(f"{where}: expected {expected}, got {status} {body}")
            continue
        if status >= 400 and after != before:
            mismatches.append(f"{where}: refused with {status} but the database changed")
        if status < 300 and call.method != "GET" and after == before:
            mismatches.append(f"{where}: allowed with {status} but nothing changed")
        if status in (403, 404) and isinstance(body, dict):
            # A refusal says why, in the API's one error shape, without echoing whether it exists.
            assert body["error"]["code"] in ("forbidden", "not_found"), where
        if (resource, action) == ("api_key", "read") and status == 200:
            owners = {k["owner_user_id"] for k in body}
            wanted = {world.person(r).id for r in VISIBLE_KEY_OWNERS[role][relation]}
            if owners != wanted:
                mismatches.append(f"{where}: listed keys of users {owners}, expected {wanted}")
        if (resource, action) == ("clarity_flag", "read") and status == 200:
            listed = any(f["user_id"] == world.person(relation).id for f in body["flags"])
            if listed != (relation in VISIBLE_FLAGS[role]):
                mismatches.append(f"{where}: flag about {relation} listed={listed}")
        if (resource, action) == ("budget", "read") and status == 200:
            listed = any(
                b["subject_type"] == "user" and b["subject_id"] == world.person(relation).id for b in body
            )
            if listed != (relation in VISIBLE_BUDGETS[role]):
                mismatches.append(f"{where}: budget of {relation} listed={listed}")
    assert not mismatches, "\n".join(mismatches)


@BOTH_BACKENDS
@pytest.mark.parametrize("role", ROLES, ids=[r.value for r in ROLES])
def test_user_list_shows_exactly_what_the_role_may_see(
    client: TestClient, people: People, role: Role
) -> None:
    world = build_world(people, role)
    answer = client.get("/api/v1/users", headers=world.actor.auth)
    assert answer.status_code == 200
    page = answer.json()
    by_relation = {
        "own": world.actor.id,
        "teammate": world.teammate.id,
        "report": world.report.id,
        "outsider": world.outsider.id,
        "other_admin": world.other_admin.id,
    }
    assert {item["id"] for item in page["items"]} == {by_relation[r] for r in VISIBLE_USERS[role]}
    assert page["total"] == len(VISIBLE_USERS[role])
    # The team filter never widens what a role sees.
    filtered = client.get(f"/api/v1/users?team_id={world.sales}", headers=world.actor.auth).json()
    expected_in_sales = {by_relation[r] for r in VISIBLE_USERS[role] if r in ("outsider", "other_admin")}
    assert {item["id"] for item in filtered["items"]} == expected_in_sales
