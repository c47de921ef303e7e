"""A Clarity table's rows as the pages show them (`body_rows`): formatted per unit, linked where the row
has a page, and every name escaped, since teams, people and models are named by users and clients."""

from __future__ import annotations

from datetime import date

from meshclaw.web.clarity_tables import Column, Table, Value, body_rows


def _table(rows: list[tuple[Value, ...]], hrefs: list[str | None]) -> Table:
    return Table(
        name="usage-team",
        caption="Usage by team",
        columns=(
            Column(key="team", label="Team", unit="text"),
            Column(key="day", label="Day", unit="date"),
            Column(key="cost_usd", label="Cost", unit="usd"),
            Column(key="rate", label="Active share", unit="rate"),
            Column(key="tokens", label="Tokens", unit="tokens"),
        ),
        rows=rows,
        hrefs=hrefs,
        empty="none",
        api="/api/v1/clarity/usage",
    )


def test_rows_are_formatted_linked_and_escaped() -> None:
    table = _table(
        [
            ("Big", date(2026, 11, 9), 1234.5, 0.8, 1_500_000),
            ('<script>alert("x")</script>', None, 0.004, 0.0, 0),
        ],
        ['/clarity/teams/7?a=1&b="2"', None],
    )
    html = str(body_rows(table))
    assert html.splitlines() == [
        '<tr><th scope="row"><a href="/clarity/teams/7?a=1&amp;b=&quot;2&quot;">Big</a></th>'
        '<td>2026-11-09</td><td class="num">$1,234.50</td><td class="num">80.0%</td>'
        '<td class="num">1,500,000</td></tr>',
        '<tr><th scope="row">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</th>'
        '<td>—</td><td class="num">$0.0040</td><td class="num">0.0%</td><td class="num">0</td></tr>',
    ]


def test_an_empty_table_has_no_rows() -> None:
    assert str(body_rows(_table([], []))) == ""
