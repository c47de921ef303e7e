"""A Clarity table: columns with units and raw rows, shown on a page and exported as CSV or JSON.

One definition serves the page, the export and the chart drawn from it, so the three never disagree.
Rows hold raw values (costs in USD, rates as fractions); the page formats them (`cell`), the exports
write them as they are.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from markupsafe import Markup

Unit = Literal["text", "count", "tokens", "usd", "rate", "minutes", "number", "date", "yes_no"]
Value = str | int | float | bool | date | None


@dataclass(frozen=True, kw_only=True)
class Column:
    key: str
    """The CSV header and JSON field name."""
    label: str
    unit: Unit = "count"

    @property
    def numeric(self) -> bool:
        return self.unit in ("count", "tokens", "usd", "rate", "minutes", "number")

    @property
    def heading(self) -> str:
        """The label with its unit, for table headers."""
        suffix = {"usd": " (USD)", "minutes": " (min)", "rate": " (%)"}.get(self.unit, "")
        return self.label + suffix


@dataclass(frozen=True, kw_only=True)
class Table:
    name: str
    """Its export name: /clarity/export/<name>.csv."""
    caption: str
    columns: tuple[Column, ...]
    rows: Sequence[tuple[Value, ...]]
    empty: str
    """What an empty table means, in words ("No AI use recorded ...")."""
    api: str
    """The /api/v1/clarity address with the same numbers."""
    export_query: str = ""
    """The page parameters the export repeats (range, team, person, agent)."""
    hrefs: Sequence[str | None] = ()
    """Per row, where its first cell links to (a team's, person's or agent's page), if anywhere."""
    stream: Callable[[], Iterator[tuple[Value, ...]]] | None = field(default=None, compare=False)
    """For exports too large for memory: rows generated from a server-side cursor instead of `rows`."""

    def href(self, index: int) -> str | None:
        return self.hrefs[index] if index < len(self.hrefs) else None

    def export_url(self, fmt: Literal["csv", "json"]) -> str:
        return f"/clarity/export/{self.name}.{fmt}" + (f"?{self.export_query}" if self.export_query else "")


def cell(value: Value, unit: Unit) -> str:
    """A value as a page shows it: thousands separators, dollars, percentages; a dash for none."""
    if value is None:
        return "—"
    if unit == "yes_no":
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    if unit == "usd":
        return f"${value:,.2f}" if abs(value) >= 1 or value == 0 else f"${value:,.4f}"
    if unit == "rate":
        return f"{value * 100:.1f}%"
    if unit in ("count", "tokens"):
        return f"{round(value):,}"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3f}" if abs(value) < 1 else f"{value:,.1f}"
    return f"{value:,.0f}"


def body_rows(table: Table) -> Markup:
    """The table's rows as HTML. Built here rather than in the template, and from plain strings: a
    template loop calling `cell` per cell took ~0.2 s for the ~900 rows of the overview at half a year,
    and joining Markup pieces ~0.06 s, against ~0.01 s for this."""
    classes = [' class="num"' if column.numeric else "" for column in table.columns]
    units = [column.unit for column in table.columns]
    rows: list[str] = []
    for index, row in enumerate(table.rows):
        cells: list[str] = []
        for position, value in enumerate(row):
            text = html.escape(cell(value, units[position]))
            if position:
                cells.append(f"<td{classes[position]}>{text}</td>")
                continue
            href = table.href(index)
            shown = f'<a href="{html.escape(href)}">{text}</a>' if href else text
            cells.append(f'<th scope="row"{classes[0]}>{shown}</th>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    # Safe: every value and link above went through html.escape; the rest is this function's own markup.
    return Markup("\n".join(rows))  # noqa: S704


def _raw(value: Value) -> str | int | float | bool | None:
    return value.isoformat() if isinstance(value, date) else value


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Value) -> str | int | float | bool | None:
    """Text that a spreadsheet would run as a formula (a team named "=HYPERLINK(...)") is written with a
    leading apostrophe, the usual defence against CSV injection; numbers are left as they are."""
    raw = _raw(value)
    if isinstance(raw, str) and raw.startswith(_FORMULA_STARTS):
        return "'" + raw
    return raw


def rows_of(table: Table) -> Iterable[tuple[Value, ...]]:
    return table.stream() if table.stream is not None else table.rows


CHUNK_CHARS = 64 * 1024
"""Rows are sent in pieces of about this size: Starlette moves each piece of a synchronous stream
through a worker thread, and one hop per row made a 12,000-row export take ten seconds."""


def chunked(pieces: Iterable[str], size: int = CHUNK_CHARS) -> Iterator[str]:
    """Joins small pieces into chunks of about `size` characters, so memory stays bounded by one chunk."""
    buffer: list[str] = []
    length = 0
    for piece in pieces:
        buffer.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(buffer)
            buffer, length = [], 0
    if buffer:
        yield "".join(buffer)


def csv_lines(table: Table) -> Iterator[str]:
    """The header, then one line per row, generated as the rows arrive."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def line(values: Sequence[object]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield line([column.key for column in table.columns])
    for row in rows_of(table):
        yield line([_csv_cell(value) for value in row])


def json_chunks(table: Table) -> Iterator[str]:
    """`{"name": ..., "columns": [...], "rows": [{...}, ...]}`, one row object per chunk."""
    head = {
        "name": table.name,
        "caption": table.caption,
        "columns": [{"key": c.key, "label": c.label, "unit": c.unit} for c in table.columns],
    }
    yield json.dumps(head)[:-1] + ', "rows": ['
    keys = [column.key for column in table.columns]
    for index, row in enumerate(rows_of(table)):
        item = {key: _raw(value) for key, value in zip(keys, row, strict=True)}
        yield ("," if index else "") + json.dumps(item)
    yield "]}\n"
