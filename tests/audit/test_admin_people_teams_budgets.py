"""Changes to people, teams, the organization import and budgets leave records in the audit log, on every
path (API, web pages, CLI), once each; a refused change leaves none, and the chain still verifies."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from meshclaw.identity import store
from meshclaw.identity.principal import Role
from tests.audit.admin_records import chain_verifies, key_id, records
from tests.cli_runner import run_cli
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS
from tests.web.conftest import PASSWORD as WEB_PASSWORD
from tests.web.conftest import WebPeople, signed_in

HTMX = {"HX-Request": "true"}
PASSWORD = "a long enough password 42"


def shape(record: dict[str, object]) -> tuple[object, ...]:
    return (record["kind"], record["target"], record["arguments"])


# --- the API ---------------------------------------------------------------------------------------


@BOTH_BACKENDS
def test_api_people_changes_are_audited_as_the_key_and_refusals_leave_nothing(
    client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    admin = people.add(Role.ADMIN)
    boss = people.add(Role.MANAGER)
    team = people.team("Platform")
    added = client.post(
        "/api/v1/users",
        json={"email": "ada@example.org", "team_id": team, "manager_id": boss.id, "password": PASSWORD},
        headers=admin.auth,
    )
    assert added.status_code == 201, added.text
    ada = added.json()["id"]
    # Refused: a duplicate email, an unknown team, a manager cycle, a person nobody can see.
    refused = [
        client.post("/api/v1/users", json={"email": "ADA@example.org"}, headers=admin.auth),
        client.post("/api/v1/users", json={"email": "bob@example.org", "team_id": 99999}, headers=admin.auth),
        client.patch(f"/api/v1/users/{boss.id}", json={"manager_id": ada}, headers=admin.auth),
        client.patch("/api/v1/users/99999", json={"team_id": None}, headers=admin.auth),
        client.patch(f"/api/v1/users/{ada}", json={"team_id": 99999}, headers=admin.auth),
    ]
    assert [answer.status_code for answer in refused] == [409, 404, 409, 404, 404]
    unchanged = client.patch(f"/api/v1/users/{ada}", json={"team_id": team}, headers=admin.auth)
    assert unchanged.status_code == 200  # the same team again: nothing changed, nothing to record
    moved = client.patch(
        f"/api/v1/users/{ada}",
        json={"team_id": None, "manager_id": admin.id, "role": "manager"},
        headers=admin.auth,
    )
    assert moved.status_code == 200, moved.text
    renamed = client.patch(f"/api/v1/users/{ada}", json={"name": "Ada L."}, headers=admin.auth)
    assert renamed.status_code == 200

    found = records(context)
    assert [shape(r) for r in found] == [
        (
            "admin.user_added",
            f"user:{ada}",
            {"email": "ada@example.org", "role": "member", "team_id": team, "manager_id": boss.id},
        ),
        ("admin.role_changed", f"user:{ada}", {"from": "member", "to": "manager"}),
        (
            "admin.user_changed",
            f"user:{ada}",
            {"team_id": {"from": team, "to": None}, "manager_id": {"from": boss.id, "to": admin.id}},
        ),
        ("admin.user_changed", f"user:{ada}", {"name": {"from": "ada", "to": "Ada L."}}),
    ]
    assert {(r["invoked_by"], r["on_behalf_of_user_id"]) for r in found} == {
        (f"api-key:{key_id(context, admin)}", admin.id)
    }
    assert PASSWORD not in str(found) and "password" not in str(found)
    assert chain_verifies(context)


def test_api_team_changes_are_audited_with_what_changed(
    client: TestClient, context: AppContext, people: People
) -> None:
    admin = people.add(Role.ADMIN)
    eng = client.post("/api/v1/teams", json={"name": "Engineering"}, headers=admin.auth).json()["id"]
    ops = client.post("/api/v1/teams", json={"name": "Ops", "parent_id": eng}, headers=admin.auth).json()[
        "id"
    ]
    refused = [
        client.post("/api/v1/teams", json={"name": " Ops "}, headers=admin.auth),
        client.post("/api/v1/teams", json={"name": "X", "parent_id": 99999}, headers=admin.auth),
        client.patch(f"/api/v1/teams/{eng}", json={"parent_id": ops}, headers=admin.auth),
        client.patch(f"/api/v1/teams/{ops}", json={"name": "Engineering"}, headers=admin.auth),
        client.delete(f"/api/v1/teams/{eng}", headers=admin.auth),  # it has a sub-team
        client.delete("/api/v1/teams/99999", headers=admin.auth),
    ]
    assert [answer.status_code for answer in refused] == [409, 404, 409, 409, 409, 404]
    assert client.patch(f"/api/v1/teams/{ops}", json={"name": "Ops"}, headers=admin.auth).status_code == 200
    changed = client.patch(
        f"/api/v1/teams/{ops}", json={"name": "Operations", "parent_id": None}, headers=admin.auth
    )
    assert changed.status_code == 200
    assert client.delete(f"/api/v1/teams/{ops}", headers=admin.auth).status_code == 204

    found = records(context)
    assert [shape(r) for r in found] == [
        ("admin.team_created", f"team:{eng}", {"name": "Engineering", "parent_id": None}),
        ("admin.team_created", f"team:{ops}", {"name": "Ops", "parent_id": eng}),
        (
            "admin.team_changed",
            f"team:{ops}",
            {"name": {"from": "Ops", "to": "Operations"}, "parent_id": {"from": eng, "to": None}},
        ),
        ("admin.team_deleted", f"team:{ops}", {"name": "Operations", "parent_id": None}),
    ]
    assert all(r["on_behalf_of_user_id"] == admin.id for r in found)
    assert chain_verifies(context)


def test_api_org_import_is_one_record_with_counts(
    client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    admin = people.add(Role.ADMIN)
    csv = "email,name,team,manager_email,role\nlead@example.org,Lead,Eng/Platform,,manager\n"
    csv += "dev@example.org,Dev,Eng/Platform,lead@example.org,\n"
    headers = {**admin.auth, "content-type": "text/csv"}
    assert client.post("/api/v1/org/import", content=csv.encode(), headers=headers).status_code == 200
    again = client.post("/api/v1/org/import", content=csv.encode(), headers=headers)  # they exist: refused
    assert again.status_code == 422
    bad = client.post("/api/v1/org/import", content=b"email\nnot-an-email\n", headers=headers)
    assert bad.status_code == 422
    promoted = csv.replace("lead@example.org,\n", "lead@example.org,admin\n")  # dev becomes an admin
    updated = client.post("/api/v1/org/import?on_existing=update", content=promoted.encode(), headers=headers)
    assert updated.status_code == 200

    with context.db.session() as session:
        dev = store.user_by_email(session, org_id, "dev@example.org")
        assert dev is not None
    found = records(context)
    assert [shape(r) for r in found] == [
        ("admin.org_imported", "organization", {"users_created": 2, "users_updated": 0, "teams_created": 2}),
        ("admin.org_imported", "organization", {"users_created": 0, "users_updated": 1, "teams_created": 0}),
        # Who may act changed: recorded person by person, as when an admin changes one role.
        ("admin.role_changed", f"user:{dev.id}", {"from": "member", "to": "admin", "via": "org_import"}),
    ]
    assert str(found[0]["invoked_by"]).startswith("api-key:") and found[0]["on_behalf_of_user_id"] == admin.id
    assert chain_verifies(context)


@BOTH_BACKENDS
def test_api_budget_changes_are_audited_and_refusals_leave_nothing(
    client: TestClient, context: AppContext, people: People
) -> None:
    admin, member = people.add(Role.ADMIN), people.add(email="ada@example.org")
    body = {"subject_type": "user", "subject": member.email, "unit": "usd", "amount": 2.5, "period": "day"}
    created = client.post("/api/v1/budgets", json=body, headers=admin.auth)
    assert created.status_code == 201, created.text
    budget = created.json()["id"]
    assert client.post("/api/v1/budgets", json={**body, "amount": 4}, headers=admin.auth).status_code == 200
    refused = [
        client.post("/api/v1/budgets", json={**body, "unit": "euros"}, headers=admin.auth),
        client.post("/api/v1/budgets", json={**body, "subject": "nobody@example.org"}, headers=admin.auth),
        client.post("/api/v1/budgets", json=body, headers=member.auth),
        client.delete(f"/api/v1/budgets/{budget}", headers=member.auth),
        client.delete("/api/v1/budgets/99999", headers=admin.auth),
    ]
    assert [answer.status_code for answer in refused] == [422, 422, 403, 403, 404]
    assert client.delete(f"/api/v1/budgets/{budget}", headers=admin.auth).status_code == 204

    limit = {
        "subject_type": "user",
        "subject_id": member.id,
        "subject": "user ada@example.org",
        "unit": "usd",
        "period": "day",
        "enforcement": "hard",
    }
    found = records(context)
    assert [shape(r) for r in found] == [
        ("admin.budget_set", f"budget:{budget}", {**limit, "amount": 2.5}),
        ("admin.budget_set", f"budget:{budget}", {**limit, "amount": 4, "replaced_amount": 2.5}),
        ("admin.budget_removed", f"budget:{budget}", {**limit, "amount": 4}),
    ]
    assert all(r["on_behalf_of_user_id"] == admin.id for r in found)
    assert chain_verifies(context)


# --- the web pages ---------------------------------------------------------------------------------


def test_web_forms_record_once_each_as_the_signed_in_admin(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople, people: People
) -> None:
    admin = web_people.add(Role.ADMIN)
    token = signed_in(client, admin)
    form = {"csrf_token": token}
    assert client.post("/teams", data={**form, "name": "Platform"}, headers=HTMX).status_code == 200
    with context.db.session() as session:
        team = store.team_by_name(session, org_id, "Platform")
        assert team is not None
        team_id = team.id
    added = client.post(
        "/users",
        data={**form, "email": "ada@example.org", "team_id": str(team_id), "password": PASSWORD},
        headers=HTMX,
    )
    assert "Added ada@example.org." in added.text
    with context.db.session() as session:
        ada = store.user_by_email(session, org_id, "ada@example.org")
        assert ada is not None
        ada_id = ada.id
    # Refused: a duplicate team, a duplicate person, an unknown manager, a team rename onto another name.
    assert client.post("/teams", data={**form, "name": "Platform"}, headers=HTMX).status_code == 409
    assert client.post("/users", data={**form, "email": "ada@example.org"}, headers=HTMX).status_code == 409
    unknown = {**form, "role": "member", "team_id": "", "manager_email": "nobody@example.org"}
    assert client.post(f"/users/{ada_id}", data=unknown, headers=HTMX).status_code == 404
    client.post("/teams", data={**form, "name": "Sales"}, headers=HTMX)
    clash = client.post(f"/teams/{team_id}", data={**form, "name": "Sales", "parent_id": ""}, headers=HTMX)
    assert clash.status_code == 409
    changed = {**form, "role": "member", "team_id": "", "manager_email": admin.email}
    assert client.post(f"/users/{ada_id}", data=changed, headers=HTMX).status_code == 200
    renamed = client.post(f"/teams/{team_id}", data={**form, "name": "Core", "parent_id": ""}, headers=HTMX)
    assert renamed.status_code == 200
    assert client.post(f"/teams/{team_id}/delete", data=form, headers=HTMX).status_code == 200
    budget = {
        **form,
        "subject_type": "user",
        "subject": "ada@example.org",
        "unit": "tokens",
        "amount": "1000",
    }
    assert client.post("/budgets", data={**budget, "period": "day"}, headers=HTMX).status_code == 200
    assert client.post("/budgets", data={**budget, "unit": "yen"}, headers=HTMX).status_code == 422
    with context.db.session() as session:
        sales = store.team_by_name(session, org_id, "Sales")
        assert sales is not None
    found = records(context)
    budget_id = int(str(found[-1]["target"]).split(":")[1])
    assert client.post(f"/budgets/{budget_id}/remove", data=form, headers=HTMX).status_code == 200
    assert client.post("/budgets/99999/remove", data=form, headers=HTMX).status_code == 404

    limit = {
        "subject_type": "user",
        "subject_id": ada_id,
        "subject": "user ada@example.org",
        "unit": "tokens",
        "amount": 1000,
        "period": "day",
        "enforcement": "hard",
    }
    found = records(context)
    assert [shape(r) for r in found] == [
        ("admin.team_created", f"team:{team_id}", {"name": "Platform", "parent_id": None}),
        (
            "admin.user_added",
            f"user:{ada_id}",
            {"email": "ada@example.org", "role": "member", "team_id": team_id, "manager_id": None},
        ),
        ("admin.team_created", f"team:{sales.id}", {"name": "Sales", "parent_id": None}),
        (
            "admin.user_changed",
            f"user:{ada_id}",
            {"team_id": {"from": team_id, "to": None}, "manager_id": {"from": None, "to": admin.id}},
        ),
        ("admin.team_changed", f"team:{team_id}", {"name": {"from": "Platform", "to": "Core"}}),
        ("admin.team_deleted", f"team:{team_id}", {"name": "Core", "parent_id": None}),
        ("admin.budget_set", f"budget:{budget_id}", limit),
        ("admin.budget_removed", f"budget:{budget_id}", limit),
    ]
    assert {(r["invoked_by"], r["on_behalf_of_user_id"]) for r in found} == {(f"user:{admin.id}", admin.id)}
    assert PASSWORD not in str(found) and token not in str(found)
    assert chain_verifies(context)


def test_a_persons_own_name_change_is_recorded_the_same_on_the_page_and_the_api(
    client: TestClient, context: AppContext, web_people: WebPeople, people: People
) -> None:
    member = web_people.add()
    token = signed_in(client, member)
    assert client.post("/account/name", data={"name": "Grace", "csrf_token": token}).status_code == 200
    client.cookies.clear()
    api_member = people.add()
    assert (
        client.patch(
            f"/api/v1/users/{api_member.id}", json={"name": "Ada"}, headers=api_member.auth
        ).status_code
        == 200
    )
    found = records(context)
    assert [(shape(r), r["on_behalf_of_user_id"]) for r in found] == [
        (
            ("admin.user_changed", f"user:{member.id}", {"name": {"from": "member1", "to": "Grace"}}),
            member.id,
        ),
        (
            ("admin.user_changed", f"user:{api_member.id}", {"name": {"from": "member2", "to": "Ada"}}),
            api_member.id,
        ),
    ]


@BOTH_BACKENDS
def test_a_password_set_is_recorded_without_the_password(
    client: TestClient, context: AppContext, web_people: WebPeople, people: People
) -> None:
    """An admin setting another person's password is a way into their account; a person's own change is
    recorded the same way, on the API and the account page. Nothing of either password is recorded."""
    admin = people.add(Role.ADMIN)
    member = people.add()
    by_admin = client.patch(f"/api/v1/users/{member.id}", json={"password": PASSWORD}, headers=admin.auth)
    own = client.patch(f"/api/v1/users/{member.id}", json={"password": PASSWORD + "!"}, headers=member.auth)
    refused = client.patch(f"/api/v1/users/{admin.id}", json={"password": PASSWORD}, headers=member.auth)
    assert (by_admin.status_code, own.status_code, refused.status_code) == (200, 200, 404)
    walker = web_people.add()
    token = signed_in(client, walker)
    form = {"current_password": WEB_PASSWORD, "new_password": PASSWORD, "new_password_again": PASSWORD}
    page = client.post("/account/password", data={**form, "csrf_token": token})
    assert page.status_code in (200, 303), page.text
    found = records(context)
    assert [(shape(r), r["on_behalf_of_user_id"]) for r in found] == [
        (("admin.password_set", f"user:{member.id}", {"own": False}), admin.id),
        (("admin.password_set", f"user:{member.id}", {"own": True}), member.id),
        (("admin.password_set", f"user:{walker.id}", {"own": True}), walker.id),
    ]
    assert PASSWORD not in str(found) and chain_verifies(context)


# --- the CLI ---------------------------------------------------------------------------------------


def test_cli_changes_are_recorded_as_the_cli(
    tmp_path: Path, database_url: str, context: AppContext, org_id: int
) -> None:
    def cli(*args: str, stdin: str | None = None) -> int:
        return run_cli(tmp_path, *args, database_url=database_url, stdin=stdin).returncode

    assert cli("teams", "add", "Eng") == 0
    assert cli("teams", "add", "Platform", "--parent", "Eng") == 0
    assert cli("users", "add", "boss@example.org", "--role", "manager") == 0
    assert cli(
        "users", "add", "ada@example.org", "--team", "Platform", "--manager", "boss@example.org",
        "--password-stdin", stdin=PASSWORD + "\n",
    ) == 0  # fmt: skip
    # Refused: a duplicate person, an unknown team, a duplicate team, a bad budget, an unknown budget.
    assert cli("users", "add", "ada@example.org") != 0
    assert cli("users", "add", "bob@example.org", "--team", "Nowhere") != 0
    assert cli("teams", "add", "Eng") != 0
    assert cli("budgets", "set", "--user", "ada@example.org", "--usd", "-1", "--per", "day") != 0
    assert cli("budgets", "remove", "99999") != 0
    people_file = tmp_path / "people.csv"
    people_file.write_text("email,name,team,manager_email,role\nnew@example.org,New,Sales,,\n")
    assert cli("org", "import", str(people_file)) == 0
    assert cli("org", "import", str(people_file)) != 0  # already there, without --update
    assert cli("budgets", "set", "--team", "Eng", "--requests", "60") == 0

    found = records(context)
    budget_id = int(str(found[-1]["target"]).split(":")[1])
    assert cli("budgets", "remove", str(budget_id)) == 0
    with context.db.session() as session:
        teams = {t.name: t.id for t in store.list_teams(session, org_id)}
        boss = store.user_by_email(session, org_id, "boss@example.org")
        ada = store.user_by_email(session, org_id, "ada@example.org")
        assert boss is not None and ada is not None
    limit = {
        "subject_type": "team",
        "subject_id": teams["Eng"],
        "subject": "team Eng",
        "unit": "requests",
        "amount": 60,
        "period": "minute",
        "enforcement": "hard",
    }
    found = records(context)
    assert [shape(r) for r in found] == [
        ("admin.team_created", f"team:{teams['Eng']}", {"name": "Eng", "parent_id": None}),
        ("admin.team_created", f"team:{teams['Platform']}", {"name": "Platform", "parent_id": teams["Eng"]}),
        (
            "admin.user_added",
            f"user:{boss.id}",
            {"email": "boss@example.org", "role": "manager", "team_id": None, "manager_id": None},
        ),
        (
            "admin.user_added",
            f"user:{ada.id}",
            {
                "email": "ada@example.org",
                "role": "member",
                "team_id": teams["Platform"],
                "manager_id": boss.id,
            },
        ),
        ("admin.org_imported", "organization", {"users_created": 1, "users_updated": 0, "teams_created": 1}),
        ("admin.budget_set", f"budget:{budget_id}", limit),
        ("admin.budget_removed", f"budget:{budget_id}", limit),
    ]
    assert {(r["invoked_by"], r["on_behalf_of_user_id"]) for r in found} == {("cli", None)}
    assert PASSWORD not in str(found)
    assert chain_verifies(context)
