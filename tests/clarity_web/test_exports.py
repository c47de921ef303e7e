"""CSV and JSON exports of the Clarity tables: headers and rows, the same visibility as the pages,
streamed answers, and bad input."""

from __future__ import annotations

import csv
import io
import json

from tests.clarity_web.conftest import RANGE, WebOrg
from tests.postgres import BOTH_BACKENDS


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@BOTH_BACKENDS
def test_csv_export_of_usage_by_team(web_org: WebOrg) -> None:
    member = web_org.as_(web_org.org.big_member)
    answer = member.get(f"/clarity/export/usage-team.csv?{RANGE}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="clarity-usage-team-2026-11-09-2026-11-15.csv"' in answer.headers["content-disposition"]
    header, *rows = _csv(answer.text)
    assert header == ["team", "requests", "errors", "total_tokens", "effective_tokens", "cost_usd"]
    assert rows == [["Big", "450", "0", "1125000", "1800000.0", "0.0"]]  # Small (two people) left out


def test_json_export_of_weekly_adoption(web_org: WebOrg) -> None:
    answer = web_org.as_(web_org.org.small_member).get(f"/clarity/export/adoption.json?{RANGE}")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    body = json.loads(answer.text)
    assert body["name"] == "adoption"
    assert [column["key"] for column in body["columns"]][:4] == ["week_start", "people", "active", "rate"]
    (week,) = body["rows"]
    assert (week["week_start"], week["people"], week["active"]) == ("2026-11-09", 10, 8)


@BOTH_BACKENDS
def test_daily_records_export_covers_what_the_role_may_see_of_individuals(web_org: WebOrg) -> None:
    org = web_org.org
    header, *rows = _csv(web_org.as_(org.big_member).get(f"/clarity/export/usage-records.csv?{RANGE}").text)
    assert header[:4] == ["day", "team", "person", "model"]
    streamed = web_org.as_(org.big_member).get(f"/clarity/export/usage-records.csv?{RANGE}")
    assert "content-length" not in streamed.headers  # written as generated, not measured first
    assert {row[2] for row in rows} == {org.big_member.email}
    assert [row[0] for row in rows] == sorted(row[0] for row in rows)
    manager = web_org.as_(org.big_manager)
    _, *team_rows = _csv(manager.get(f"/clarity/export/usage-records.csv?{RANGE}&team=Big").text)
    assert org.grinder.email in {row[2] for row in team_rows}
    assert org.small_member.email not in {row[2] for row in team_rows}
    assert (
        web_org.as_(org.big_member).get(f"/clarity/export/usage-records.csv?{RANGE}&team=Big").status_code
        == 403
    )
    # A year is allowed for this export (the pages show at most half a year).
    year = manager.get("/clarity/export/usage-records.json?from=2025-12-01&to=2026-11-30")
    assert year.status_code == 200 and json.loads(year.text)["name"] == "usage-records"


@BOTH_BACKENDS
def test_exports_are_refused_like_the_pages(web_org: WebOrg) -> None:
    org = web_org.org
    member = web_org.as_(org.big_member)
    assert member.get(f"/clarity/export/usage-user.csv?{RANGE}&team=Big").status_code == 403
    assert member.get(f"/clarity/export/outcomes.csv?{RANGE}&user={org.grinder.id}").status_code == 403
    assert member.get(f"/clarity/export/adoption.csv?{RANGE}&team=Small").status_code == 403
    refused = member.get(f"/clarity/export/flags.json?{RANGE}")
    assert refused.status_code == 200 and org.grinder.email not in refused.text
    admin_flags = json.loads(web_org.as_(org.admin).get(f"/clarity/export/flags.json?{RANGE}").text)
    assert [row["subject"] for row in admin_flags["rows"]] == [org.grinder.email]
    assert member.get(f"/clarity/export/everything.csv?{RANGE}").status_code == 404
    assert member.get("/clarity/export/usage-team.csv?from=2026-11-15&to=2026-11-01").status_code == 400
    assert member.get("/clarity/export/usage-team.xml").status_code == 422


def test_every_table_on_a_page_links_to_a_working_export(web_org: WebOrg) -> None:
    import re

    admin = web_org.as_(web_org.org.admin)
    org = web_org.org
    pages = (
        "/clarity",
        "/clarity/models",
        f"/clarity/teams/{org.big}",
        f"/clarity/people/{org.grinder.id}",
        "/clarity/agents",
        "/clarity/agents/7",
        "/clarity/flags",
    )
    for path in pages:
        page = admin.get(f"{path}?{RANGE}").text
        links = set(re.findall(r'href="(/clarity/export/[^"]+)"', page))
        assert links, path
        for link in links:
            answer = admin.get(link.replace("&amp;", "&"))
            assert answer.status_code == 200, (link, answer.text[:300])


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralized() -> None:
    from meshclaw.web.clarity_tables import Column, Table, csv_lines

    table = Table(
        name="t",
        caption="t",
        columns=(Column(key="name", label="Name", unit="text"), Column(key="n", label="N")),
        rows=[('=HYPERLINK("http://x")', -3), ("plain, with comma", 4)],
        empty="",
        api="/api",
    )
    assert _csv("".join(csv_lines(table))) == [
        ["name", "n"],
        ['\'=HYPERLINK("http://x")', "-3"],
        ["plain, with comma", "4"],
    ]


def test_rows_are_sent_in_bounded_chunks_not_one_per_row() -> None:
    from meshclaw.web.clarity_tables import chunked

    assert [len(chunk) for chunk in chunked(["x" * 10] * 10, size=25)] == [30, 30, 30, 10]
    assert list(chunked([])) == []
