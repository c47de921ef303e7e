"""The flag review page in pages: half a year of a large organization holds thousands of flags, so the
page shows 50 at a time as one-line rows (each opening on its detail and review form), newest week and
highest score first, filtered by status, with counts per status, and a review returns to the page and
filter it was made on."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from sqlalchemy import select

from meshclaw.db.models import ClarityFlag
from meshclaw.web.clarity_flag_pages import PER_PAGE
from tests.clarity.conftest import WEEK
from tests.clarity_web.conftest import RANGE, WebOrg

_FLAG_IDS = re.compile(r'<li id="flag-(\d+)">')


def _add_flags(web_org: WebOrg, count: int) -> list[int]:
    """`count` stored flags in the recorded week (already scored by a first read, so none is replaced),
    one in three confirmed and one in three dismissed, returned highest score first."""
    statuses = ("open", "confirmed", "dismissed")
    with web_org.context.db.session() as session:
        rows = [
            ClarityFlag(
                week_start=WEEK,
                subject_key=f"person:extra{index}",
                kind="person",
                subject=f"extra{index}@example.org",
                user_id=None,
                agent_id=None,
                pattern=f"extra-{index}",
                score=1_000.0 - index,
                signals=[{"name": "low_yield", "value": 9.0, "baseline": 1.0, "description": "yield"}],
                explanation=f"extra flag {index}",
                evidence=[],
                status=statuses[index % 3],
                detected_at=datetime(2026, 11, 20, tzinfo=UTC),
            )
            for index in range(count)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def test_flags_are_shown_a_page_at_a_time_with_counts_and_a_status_filter(web_org: WebOrg) -> None:
    admin = web_org.as_(web_org.org.admin)
    first = admin.get(f"/clarity/flags?{RANGE}")  # scores the week
    assert first.status_code == 200
    scored = len(_FLAG_IDS.findall(first.text))
    assert 1 <= scored < PER_PAGE
    added = _add_flags(web_org, 2 * PER_PAGE + 10)
    total = scored + len(added)

    pages = [admin.get(f"/clarity/flags?{RANGE}&page={number}") for number in (1, 2, 3)]
    shown = [[int(found) for found in _FLAG_IDS.findall(page.text)] for page in pages]
    assert [len(ids) for ids in shown] == [PER_PAGE, PER_PAGE, total - 2 * PER_PAGE]
    flat = [flag_id for ids in shown for flag_id in ids]
    assert len(set(flat)) == total  # every flag once, none twice across pages
    assert flat[: len(added)] == added  # highest score first within the week
    assert f"All ({total})" in pages[0].text and "Page 1 of 3" in pages[0].text
    # The page stays small: one row, one detail and one review form per flag shown, never more.
    for page, ids in zip(pages, shown, strict=True):
        assert page.text.count('class="review-form"') == page.text.count("<details") == len(ids) <= PER_PAGE
    with web_org.context.db.session() as session:
        stored = set(session.scalars(select(ClarityFlag.id).where(ClarityFlag.week_start == WEEK)))
    assert sorted(flat) == sorted(stored)  # paging walks every flag of the range exactly once
    assert 'rel="next"' in pages[0].text and 'rel="prev"' not in pages[0].text
    assert 'rel="prev"' in pages[2].text and 'rel="next"' not in pages[2].text
    # Past the last page: the last page, not an empty one.
    assert _FLAG_IDS.findall(admin.get(f"/clarity/flags?{RANGE}&page=9").text) == _FLAG_IDS.findall(
        pages[2].text
    )

    dismissed = admin.get(f"/clarity/flags?{RANGE}&status=dismissed")
    listed = [int(found) for found in _FLAG_IDS.findall(dismissed.text)]
    assert listed == added[2::3]
    assert f"Dismissed ({len(listed)})" in dismissed.text

    # A review returns to the page and the filter it was made on.
    backs = [re.findall(r'name="back" value="([^"]+)"', page.text) for page in (pages[1], dismissed)]
    assert {back.replace("&amp;", "&") for back in backs[0]} == {f"/clarity/flags?{RANGE}&page=2"}
    assert {back.replace("&amp;", "&") for back in backs[1]} == {
        f"/clarity/flags?{RANGE}&status=dismissed&page=1"
    }

    refused = admin.get(f"/clarity/flags?{RANGE}&status=closed")
    assert refused.status_code == 400
    assert "Status must be one of open, confirmed, dismissed, not 'closed'" in html.unescape(refused.text)
    assert admin.get(f"/clarity/flags?{RANGE}&page=0").status_code in (400, 422)
