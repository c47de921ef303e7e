"""Usage-report imports: Copilot NDJSON and Cursor daily JSON, by upload (`POST /api/v1/usage/imports`)
and by the installed `meshclaw import` command. Re-imports add nothing; bad rows are reported by line
and block the import unless skipped."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.context import AppContext
from meshclaw.db.models import ActivityEventRow, OutcomeEventRow, UsageEventRow
from meshclaw.identity.principal import Role
from tests.cli.test_cli import run
from tests.conftest import People, Person
from tests.postgres import BOTH_BACKENDS

DATA = Path(__file__).parent / "data"
URL = "/api/v1/usage/imports"


def team(people: People) -> dict[str, Person]:
    return {
        name: people.add(email=f"{name}@example.org", scopes=["ingest"]) for name in ("alice", "bob", "carol")
    }


def outcome_totals(context: AppContext) -> Counter[tuple[str, bool | None, int | None]]:
    totals: Counter[tuple[str, bool | None, int | None]] = Counter()
    with context.db.session() as session:
        for row in session.scalars(select(OutcomeEventRow)):
            assert row.source == "import"
            totals[(row.type, row.accepted, row.user_id)] += int(row.quantity)
    return totals


def counts(context: AppContext) -> tuple[int, int, int]:
    with context.db.session() as session:
        return (
            len(session.scalars(select(UsageEventRow.id)).all()),
            len(session.scalars(select(OutcomeEventRow.id)).all()),
            len(session.scalars(select(ActivityEventRow.id)).all()),
        )


def upload(client: TestClient, person: Person, name: str, fmt: str, **params: str) -> dict[str, object]:
    answer = client.post(
        URL, params={"format": fmt, **params}, content=(DATA / name).read_bytes(), headers=person.auth
    )
    client.app.state.recorder.flush()  # type: ignore[attr-defined]
    result: dict[str, object] = {"status": answer.status_code, **answer.json()}
    return result


@BOTH_BACKENDS
def test_cursor_upload_maps_outcomes_and_a_reimport_adds_nothing(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN, scopes=["ingest"])
    staff = team(people)
    first = upload(client, admin, "cursor-daily-usage.json", "cursor")
    assert first == {
        "status": 200,
        "format": "cursor",
        "rows": 3,
        "imported_rows": 3,
        "skipped": [],
        "events": {"usage": 0, "outcomes": 170, "activities": 2},
    }
    alice = staff["alice"].id
    expected = Counter(
        {
            ("lines_of_code.added", None, alice): 390,
            ("lines_of_code.removed", None, alice): 45,
            ("code_edit.decided", True, alice): 13,
            ("code_edit.decided", False, alice): 4,
            ("tab_completion.decided", True, alice): 82,
            ("tab_completion.decided", False, alice): 68,
        }
    )
    assert outcome_totals(people.context) == expected
    assert counts(people.context) == (0, 170, 2)  # carol was inactive that day: nothing of hers
    assert upload(client, admin, "cursor-daily-usage.json", "cursor")["status"] == 200
    assert outcome_totals(people.context) == expected
    assert counts(people.context) == (0, 170, 2)
    with people.context.db.session() as session:
        day = session.scalars(select(ActivityEventRow).order_by(ActivityEventRow.occurred_at)).first()
        assert day is not None and day.name == "cursor.user_day"
        assert day.occurred_at.date().isoformat() == "2025-10-01"
        assert (day.attributes["agentRequests"], day.attributes["mostUsedModel"]) == (12, "claude-4-sonnet")


def test_bad_cursor_rows_are_reported_by_line_and_block_the_import(
    client: TestClient, people: People
) -> None:
    admin = people.add(Role.ADMIN, scopes=["api:write"])
    team(people)
    refused = upload(client, admin, "cursor-bad-rows.json", "cursor")
    assert refused["status"] == 422
    error = refused["error"]
    assert isinstance(error, dict)
    assert [row["line"] for row in error["rows"]] == [29, 55, 81]
    assert "nobody@example.org" in error["rows"][0]["error"]
    assert "date" in error["rows"][1]["error"]
    assert "totalAccepts must be a whole number" in error["rows"][2]["error"]
    assert counts(people.context) == (0, 0, 0)
    skipped = upload(client, admin, "cursor-bad-rows.json", "cursor", skip_bad="true")
    assert (skipped["status"], skipped["rows"], skipped["imported_rows"]) == (200, 4, 1)
    assert counts(people.context) == (0, 136, 1)


def test_only_admins_import(client: TestClient, people: People) -> None:
    member = people.add(scopes=["ingest"])
    gateway_admin = people.add(Role.ADMIN, scopes=["gateway"])
    body = (DATA / "cursor-daily-usage.json").read_bytes()
    assert client.post(URL, params={"format": "cursor"}, content=body, headers=member.auth).status_code == 403
    assert (
        client.post(URL, params={"format": "cursor"}, content=body, headers=gateway_admin.auth).status_code
        == 403
    )
    assert client.post(URL, params={"format": "cursor"}, content=body).status_code == 401
    admin = people.add(Role.ADMIN, scopes=["ingest"])
    wrong = client.post(URL, params={"format": "jira"}, content=body, headers=admin.auth)
    assert wrong.status_code == 422 and "format" in wrong.json()["error"]["message"]


def test_copilot_upload_as_multipart_with_a_login_map(client: TestClient, people: People) -> None:
    admin = people.add(Role.ADMIN, scopes=["ingest"])
    staff = team(people)
    answer = client.post(
        URL,
        params={"format": "copilot", "login": "bobthebuilder=bob@example.org"},
        files={"file": ("report.ndjson", (DATA / "copilot-users-28-day.ndjson").read_bytes())},
        headers=admin.auth,
    )
    assert answer.status_code == 200, answer.text
    client.app.state.recorder.flush()  # type: ignore[attr-defined]
    assert answer.json()["events"] == {"usage": 2, "outcomes": 30, "activities": 3}
    with people.context.db.session() as session:
        usage = {row.user_id: row for row in session.scalars(select(UsageEventRow))}
    bob = usage[staff["bob"].id]
    assert (bob.input_uncached, bob.output, bob.client, bob.source) == (3800, 5000, "copilot-cli", "import")
    assert (usage[staff["alice"].id].input_uncached, usage[staff["alice"].id].output) == (10_000, 2_000)
    totals = outcome_totals(people.context)
    assert totals[("code_suggestion.decided", True, staff["alice"].id)] == 15
    assert totals[("code_suggestion.decided", False, staff["alice"].id)] == 5
    assert totals[("code_suggestion.decided", False, staff["bob"].id)] == 4
    assert totals[("lines_of_code.added", None, staff["alice"].id)] == 85


def test_cli_imports_copilot_once_and_reports_bad_lines(
    tmp_path: Path, context: AppContext, people: People
) -> None:
    team(people)
    report = str(DATA / "copilot-users-28-day.ndjson")
    done = run(tmp_path, "import", "copilot", report, "--login", "bobthebuilder=bob@example.org", "--json")
    assert done.returncode == 0, done.stderr
    assert '"imported_rows":3' in done.stdout
    before = counts(context)
    assert before == (2, 30, 3)
    again = run(tmp_path, "import", "copilot", report, "--login", "bobthebuilder=bob@example.org")
    assert again.returncode == 0 and "Imported 3 of 3 copilot rows" in again.stdout
    assert counts(context) == before

    bad = str(DATA / "copilot-bad-rows.ndjson")
    refused = run(tmp_path, "import", "copilot", bad)
    assert refused.returncode == 2
    assert "4 bad row(s); nothing was imported" in refused.stderr
    for line in (
        "line 2: no MeshClaw user matches the login 'mallory'",
        "line 3:",
        "line 4: not valid JSON",
        "line 5:",
    ):
        assert line in refused.stderr
    assert counts(context) == before
    skipped = run(tmp_path, "import", "cursor", str(DATA / "cursor-bad-rows.json"), "--skip-bad")
    assert skipped.returncode == 0, skipped.stderr
    assert "Imported 1 of 4 cursor rows" in skipped.stdout and "skipped line 29" in skipped.stdout
