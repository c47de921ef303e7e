"""Reviewing from the compact list: each flag is a one-line row that opens on its detail and review
form; a review sent by htmx answers with that row alone (opened, the new status shown), recorded with
who reviewed and when as a plain post is, and the status tabs read the new totals from the page."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from meshclaw.db.models import ClarityFlag
from tests.clarity.conftest import WEEK
from tests.clarity_web.conftest import RANGE, WebOrg

_ROW = re.compile(
    r'<li id="flag-(\d+)">\s*<details class="flag"( open)?>\s*<summary class="flag-row"[^>]*>(.*?)</summary>',
    re.S,
)


def _text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def test_a_row_names_the_flag_in_one_line_and_opens_on_its_detail(web_org: WebOrg) -> None:
    org = web_org.org
    page = web_org.as_(org.admin).get(f"/clarity/flags?{RANGE}").text
    ((flag_id, opened, summary),) = _ROW.findall(page)
    assert not opened  # rows start closed: the list is scanned first
    assert _text(summary).startswith(f"{org.grinder.email} person week of {WEEK.isoformat()} signals: ")
    assert "low yield" in _text(summary) and _text(summary).endswith("to review")
    assert re.search(r"score \d+\.\d\d", _text(summary))
    detail = page.split(f'<li id="flag-{flag_id}">', 1)[1].split("</li>", 1)[0]
    assert "Signals against the peer baseline" in detail and "records 1" in detail
    assert f'hx-post="/clarity/flags/{flag_id}/review"' in detail
    assert f'hx-target="#flag-{flag_id}"' in detail and 'name="csrf_token"' in detail
    assert 'id="flag-tabs"' in page and 'hx-trigger="flag-reviewed from:body"' in page


def test_a_review_sent_by_htmx_answers_with_the_reviewed_row_and_is_recorded(web_org: WebOrg) -> None:
    org = web_org.org
    auditor = web_org.as_(org.auditor)
    page = auditor.get(f"/clarity/flags?{RANGE}").text
    ((flag_id, _, _),) = _ROW.findall(page)
    back = f"/clarity/flags?{RANGE}&status=open&page=1"

    member = web_org.as_(org.grinder)
    refused = member.post(
        f"/clarity/flags/{flag_id}/review",
        data={"status": "dismissed", "back": back, "csrf_token": web_org.csrf(member)},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 403 and org.grinder.email not in refused.text

    answer = auditor.post(
        f"/clarity/flags/{flag_id}/review",
        data={
            "status": "confirmed",
            "note": "Talked it over",
            "back": back,
            "csrf_token": web_org.csrf(auditor),
        },
        headers={"HX-Request": "true"},
        follow_redirects=False,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["hx-trigger"] == "flag-reviewed"  # the tabs fetch their new counts
    row = answer.text.strip()
    assert row.startswith(f'<li id="flag-{flag_id}">') and row.endswith("</li>")  # the row alone
    ((_, opened, summary),) = _ROW.findall(row)
    assert opened and _text(summary).endswith("confirmed")
    assert "autofocus" in row  # focus comes back to the row the reviewer was on
    assert "Marked confirmed" in row and "Talked it over" in row
    kept = re.search(r'name="back" value="([^"]+)"', row)
    assert kept is not None and html.unescape(kept.group(1)) == back  # a later review returns there too

    with web_org.context.db.session() as session:
        stored = session.scalars(select(ClarityFlag).where(ClarityFlag.id == int(flag_id))).one()
        assert (stored.status, stored.review_note) == ("confirmed", "Talked it over")
        assert stored.reviewed_by_user_id == org.auditor.id and stored.reviewed_at is not None

    tabs = auditor.get(back).text.split('id="flag-tabs"', 1)[1].split("</nav>", 1)[0]
    assert "All (1)" in tabs and "To review (0)" in tabs and "Confirmed (1)" in tabs

    # Without htmx, the same post still answers with a redirect back to the list.
    plain = auditor.post(
        f"/clarity/flags/{flag_id}/review",
        data={"status": "dismissed", "back": back, "csrf_token": web_org.csrf(auditor)},
        follow_redirects=False,
    )
    assert plain.status_code == 303 and plain.headers["location"] == back
