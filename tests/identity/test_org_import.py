"""Org import: a clean file creates people and the teams they name; a file with any problem is rejected
with every problem listed by row number, and nothing is written."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select

from meshclaw.context import AppContext
from meshclaw.db.models import Team, User
from meshclaw.errors import InvalidInputError
from meshclaw.identity import store
from meshclaw.identity.org_import import (
    ImportRejectedError,
    ImportReport,
    OnExisting,
    import_rows,
    parse_file,
)
from meshclaw.identity.principal import Role
from tests.api.db_state import counts
from tests.postgres import BOTH_BACKENDS

HEADER = "email,name,team,manager_email,role\n"

GOOD = (
    HEADER
    + "boss@example.org,The Boss,Engineering,,admin\n"
    + "lead@example.org,Platform Lead,Engineering/Platform,boss@example.org,manager\n"
    + "dev@example.org,Dev One,Engineering/Platform,lead@example.org,member\n"
    # A manager may appear after the people they manage.
    + "dev2@example.org,Dev Two,Engineering/Platform/Runtime,late@example.org,\n"
    + "late@example.org,Late Manager,Engineering/Platform/Runtime,lead@example.org,manager\n"
    + "AUDIT@Example.org,,,,Auditor\n"
)


def run_import(
    context: AppContext, org_id: int, data: bytes, *, on_existing: OnExisting = "error", filename: str = ""
) -> ImportReport:
    with context.db.session() as session:
        return import_rows(
            session,
            parse_file(data, filename=filename),
            org_id=org_id,
            now=context.clock.now(),
            on_existing=on_existing,
        )


def rejected(context: AppContext, org_id: int, data: bytes, **kwargs: object) -> set[tuple[int, str]]:
    """Import a file that must be refused; return its (row, field) problems, checking nothing was written."""
    before = counts(context)
    with pytest.raises(ImportRejectedError) as caught:
        run_import(context, org_id, data, **kwargs)  # type: ignore[arg-type]
    assert counts(context) == before
    assert caught.value.total_errors == len(caught.value.errors)
    assert "nothing was written" in caught.value.message
    return {(e.row, e.field) for e in caught.value.errors}


def people_by_email(context: AppContext) -> dict[str, User]:
    with context.db.session() as session:
        return {u.email: u for u in session.scalars(select(User))}


def teams_by_name(context: AppContext) -> dict[str, Team]:
    with context.db.session() as session:
        return {t.name: t for t in session.scalars(select(Team))}


@BOTH_BACKENDS
def test_a_clean_csv_creates_people_managers_and_nested_teams(context: AppContext, org_id: int) -> None:
    report = run_import(context, org_id, GOOD.encode())
    assert (report.users_created, report.users_updated) == (6, 0)
    assert sorted(report.teams_created) == ["Engineering", "Platform", "Runtime"]
    teams = teams_by_name(context)
    assert teams["Engineering"].parent_id is None
    assert teams["Platform"].parent_id == teams["Engineering"].id
    assert teams["Runtime"].parent_id == teams["Platform"].id
    users = people_by_email(context)
    assert set(users) == {
        "boss@example.org",
        "lead@example.org",
        "dev@example.org",
        "dev2@example.org",
        "late@example.org",
        "audit@example.org",
    }
    assert users["lead@example.org"].manager_id == users["boss@example.org"].id
    assert users["dev2@example.org"].manager_id == users["late@example.org"].id
    assert users["dev2@example.org"].team_id == teams["Runtime"].id
    assert (users["dev2@example.org"].role, users["late@example.org"].role) == ("member", "manager")
    assert users["audit@example.org"].role == "auditor"
    assert users["audit@example.org"].name == "audit"
    assert users["audit@example.org"].team_id is None
    # Imported people have no password: they sign in through SSO or a reset link.
    assert all(u.password_hash is None for u in users.values())


@BOTH_BACKENDS
def test_json_in_both_shapes(context: AppContext, org_id: int) -> None:
    rows = [
        {"email": "a@example.org", "name": "A", "team": "Sales/EMEA", "role": "manager"},
        {"email": "b@example.org", "name": "B", "team": "Sales/EMEA", "manager_email": "a@example.org"},
    ]
    report = run_import(context, org_id, orjson.dumps(rows), filename="people.json")
    assert (report.users_created, sorted(report.teams_created)) == (2, ["EMEA", "Sales"])
    wrapped = orjson.dumps({"users": [{"email": "c@example.org", "team": "Sales", "manager_email": None}]})
    assert run_import(context, org_id, wrapped).users_created == 1
    users = people_by_email(context)
    assert users["b@example.org"].manager_id == users["a@example.org"].id


@BOTH_BACKENDS
def test_every_bad_row_is_reported_and_nothing_is_written(context: AppContext, org_id: int) -> None:
    now = context.clock.now()
    with context.db.session() as session:
        store.create_user(session, org_id=org_id, email="already@example.org", now=now)
    data = (
        HEADER
        + "fine@example.org,Fine,NewTeam,,member\n"  # 1: good, but must not be written
        + "not-an-email,Bad,,,member\n"  # 2
        + "x@example.org,X,,,wizard\n"  # 3
        + "dup@example.org,D1,,,member\n"  # 4: the first of a pair is fine
        + "DUP@example.org,D2,,,member\n"  # 5
        + "y@example.org,Y,,ghost@example.org,member\n"  # 6
        + "z@example.org,Z,,,member,surplus\n"  # 7
        + "c1@example.org,C1,,c2@example.org,member\n"  # 8: c1 -> c2 -> c1
        + "c2@example.org,C2,,c1@example.org,member\n"  # 9
        + "self@example.org,S,,self@example.org,member\n"  # 10
        + "already@example.org,A,,,member\n"  # 11
        + "t@example.org,T,A//B,,member\n"  # 12
        + f"n@example.org,{'n' * 201},,,member\n"  # 13
    )
    problems = rejected(context, org_id, data.encode())
    assert problems == {
        (2, "email"),
        (3, "role"),
        (5, "email"),
        (6, "manager_email"),
        (7, "csv"),
        (8, "manager_email"),
        (10, "manager_email"),
        (11, "email"),
        (12, "team"),
        (13, "name"),
    }
    assert "NewTeam" not in teams_by_name(context)


def test_messages_say_what_to_fix(context: AppContext, org_id: int) -> None:
    data = HEADER + "dup@example.org,,,,member\ndup@example.org,,,,member\nx@example.org,,,,wizard\n"
    with pytest.raises(ImportRejectedError) as caught:
        run_import(context, org_id, data.encode())
    text = str(caught.value.message)
    assert "row 2, email: dup@example.org also appears in row 1" in text
    assert "row 3, role: unknown role 'wizard'; use one of: member, manager, admin, auditor" in text


def test_a_management_cycle_names_the_chain(context: AppContext, org_id: int) -> None:
    data = (
        HEADER
        + "a@example.org,,,b@example.org,\nb@example.org,,,c@example.org,\nc@example.org,,,a@example.org,\n"
    )
    with pytest.raises(ImportRejectedError) as caught:
        run_import(context, org_id, data.encode())
    [error] = caught.value.errors
    assert (error.row, error.field) == (1, "manager_email")
    assert (
        error.message == "management cycle: a@example.org -> b@example.org -> c@example.org -> a@example.org"
    )


@BOTH_BACKENDS
def test_a_cycle_through_people_already_in_the_database_is_caught(context: AppContext, org_id: int) -> None:
    run_import(
        context, org_id, (HEADER + "top@example.org,,,,admin\nmid@example.org,,,top@example.org,\n").encode()
    )
    # In update mode, making `top` report to `mid` would close top -> mid -> top.
    data = HEADER + "top@example.org,,,mid@example.org,admin\n"
    assert rejected(context, org_id, data.encode(), on_existing="update") == {(1, "manager_email")}


def test_a_file_that_is_not_utf8_names_its_rows(context: AppContext, org_id: int) -> None:
    data = (
        (HEADER + "a@example.org,A,,,\n").encode()
        + b"b@example.org,J\xe9r\xf4me,,,\n"
        + b"c@example.org,\xff,,,\n"
    )
    assert rejected(context, org_id, data) == {(2, "encoding"), (3, "encoding")}


def test_malformed_csv_names_the_row(context: AppContext, org_id: int) -> None:
    stray = HEADER + 'a@example.org,A,,,\nb@example.org,"B"x,,,\n'
    assert rejected(context, org_id, stray.encode()) == {(2, "csv")}
    unclosed = HEADER + 'a@example.org,A,,,\nb@example.org,"B,,,\nc@example.org,C,,,\n'
    assert rejected(context, org_id, unclosed.encode()) == {(2, "csv")}


@BOTH_BACKENDS
def test_control_characters_are_a_row_problem_not_a_crash(context: AppContext, org_id: int) -> None:
    """PostgreSQL cannot store NUL in text; the row must be refused on both backends alike."""
    data = HEADER + "a@example.org,A\x00,,,\nb@example.org,B,Team\x07,,\n"
    assert rejected(context, org_id, data.encode()) == {(1, "name"), (2, "team")}


@BOTH_BACKENDS
def test_a_team_path_must_match_where_the_team_already_is(context: AppContext, org_id: int) -> None:
    run_import(context, org_id, (HEADER + "a@example.org,,Engineering/Platform,,\n").encode())
    moved = HEADER + "b@example.org,,Sales/Platform,,\n"
    assert rejected(context, org_id, moved.encode()) == {(1, "team")}
    in_file = HEADER + "c@example.org,,Ops/Infra,,\nd@example.org,,Eng/Infra,,\n"
    assert rejected(context, org_id, in_file.encode()) == {(2, "team")}
    # A single name refers to the team wherever it is; a matching path is fine.
    fine = HEADER + "e@example.org,,Platform,,\nf@example.org,,Engineering/Platform,,\n"
    report = run_import(context, org_id, fine.encode())
    assert (report.users_created, report.teams_created) == (2, [])


def test_header_and_empty_file_problems(context: AppContext, org_id: int) -> None:
    with pytest.raises(InvalidInputError, match="unknown CSV column"):
        parse_file(b"email,name,team,manager_email,role,salary\n")
    with pytest.raises(InvalidInputError, match="header must be"):
        parse_file(b"name,team\nA,B\n")
    with pytest.raises(InvalidInputError, match="no rows"):
        run_import(context, org_id, HEADER.encode())
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        parse_file(b'[{"email": ', filename="x.json")


@BOTH_BACKENDS
def test_update_mode_changes_existing_people(context: AppContext, org_id: int) -> None:
    run_import(context, org_id, GOOD.encode())
    again = HEADER + "dev@example.org,Dev Renamed,Support,boss@example.org,manager\nnew@example.org,,,,\n"
    assert rejected(context, org_id, again.encode()) == {(1, "email")}
    report = run_import(context, org_id, again.encode(), on_existing="update")
    assert (report.users_created, report.users_updated, report.teams_created) == (1, 1, ["Support"])
    same = run_import(context, org_id, again.encode(), on_existing="update")  # nothing changes now
    assert (same.users_created, same.users_updated, same.teams_created) == (0, 0, [])
    users = people_by_email(context)
    dev = users["dev@example.org"]
    assert (dev.name, dev.role, dev.manager_id) == ("Dev Renamed", "manager", users["boss@example.org"].id)
    assert dev.team_id == teams_by_name(context)["Support"].id


@BOTH_BACKENDS
def test_update_mode_cannot_remove_the_last_admin(context: AppContext, org_id: int) -> None:
    run_import(context, org_id, GOOD.encode())
    demote = HEADER + "boss@example.org,The Boss,Engineering,,member\n"
    assert rejected(context, org_id, demote.encode(), on_existing="update") == {(0, "role")}
    assert people_by_email(context)["boss@example.org"].role == Role.ADMIN.value


def test_update_mode_works_before_any_admin_exists(context: AppContext, org_id: int) -> None:
    """An operator may import and re-import people before the first admin has signed up."""
    run_import(context, org_id, (HEADER + "a@example.org,A,,,member\n").encode())
    report = run_import(
        context, org_id, (HEADER + "a@example.org,A2,,,member\n").encode(), on_existing="update"
    )
    assert report.users_updated == 1
    assert people_by_email(context)["a@example.org"].name == "A2"
