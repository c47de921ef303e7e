"""Chart specifications for the Clarity pages, drawn in the browser by Chart.js (vendored, see
static/vendor/VERSIONS.md) from the same `Table` the page shows under the chart.

The page carries each spec in a `<script type="application/json">` block, which browsers never run, so
the Content-Security-Policy (no inline script) holds; static/clarity-charts.js reads the blocks and
draws them. Every chart names the API address with the same numbers, and the table under it is the
text alternative.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from meshclaw.web.clarity_tables import Table, Unit, Value

Kind = Literal["line", "bar"]


@dataclass(frozen=True, kw_only=True)
class Dataset:
    label: str
    data: list[float | None]
    dashed: bool = False
    """A reference line (a goal), drawn dashed and without points."""


@dataclass(frozen=True, kw_only=True)
class Chart:
    id: str
    title: str
    kind: Kind
    unit: Unit
    labels: list[str]
    datasets: list[Dataset]
    api: str
    stacked: bool = False

    @property
    def spec(self) -> dict[str, object]:
        """What clarity-charts.js reads."""
        return {
            "kind": self.kind,
            "unit": self.unit,
            "stacked": self.stacked,
            "labels": self.labels,
            "datasets": [{"label": d.label, "data": d.data, "dashed": d.dashed} for d in self.datasets],
        }

    @property
    def empty(self) -> bool:
        return not self.labels


def _text(value: Value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _number(value: Value) -> float | None:
    if value is None or isinstance(value, (str, date)):
        return None
    return float(value)


def series(
    table: Table,
    *,
    chart_id: str,
    title: str,
    x: str,
    ys: list[tuple[str, str]],
    unit: Unit,
    kind: Kind = "line",
    stacked: bool = False,
    goal: tuple[str, float] | None = None,
    every: list[date] | None = None,
) -> Chart:
    """One dataset per column in `ys` (key, label) over the column `x`; `goal`: a dashed flat line;
    `every`: all the days of the range, so days without use show as zero rather than disappearing."""
    index = {column.key: position for position, column in enumerate(table.columns)}
    if every is None:
        labels = [_text(row[index[x]]) for row in table.rows]
        datasets = [
            Dataset(label=label, data=[_number(row[index[key]]) for row in table.rows]) for key, label in ys
        ]
    else:
        labels = [day.isoformat() for day in every]
        by_day = {_text(row[index[x]]): row for row in table.rows}
        datasets = [
            Dataset(
                label=label,
                data=[_number(by_day[day][index[key]]) if day in by_day else 0.0 for day in labels],
            )
            for key, label in ys
        ]
    if goal is not None:
        datasets.append(Dataset(label=goal[0], data=[goal[1]] * len(labels), dashed=True))
    return Chart(
        id=chart_id,
        title=title,
        kind=kind,
        unit=unit,
        labels=labels,
        datasets=datasets,
        api=table.api,
        stacked=stacked,
    )


def pivot(
    table: Table,
    *,
    chart_id: str,
    title: str,
    x: str,
    group: str,
    value: str,
    unit: Unit,
    top: int = 6,
    every: list[date] | None = None,
) -> Chart:
    """A stacked bar per `x` with one dataset per `group` value: the `top` largest, the rest as
    "others", so a chart stays readable with fifty models."""
    index = {column.key: position for position, column in enumerate(table.columns)}
    totals: dict[str, float] = {}
    cells: dict[tuple[str, str], float] = {}
    labels: list[str] = []
    for row in table.rows:
        at, name, amount = _text(row[index[x]]), _text(row[index[group]]), _number(row[index[value]]) or 0.0
        if at not in labels:
            labels.append(at)
        totals[name] = totals.get(name, 0.0) + amount
        cells[(at, name)] = cells.get((at, name), 0.0) + amount
    labels = [day.isoformat() for day in every] if every is not None else sorted(labels)
    ranked = sorted(totals, key=lambda name: -totals[name])
    shown, others = ranked[:top], ranked[top:]
    datasets = [Dataset(label=name, data=[cells.get((at, name), 0.0) for at in labels]) for name in shown]
    if others:
        datasets.append(
            Dataset(
                label="others",
                data=[sum(cells.get((at, name), 0.0) for name in others) for at in labels],
            )
        )
    return Chart(
        id=chart_id,
        title=title,
        kind="bar",
        unit=unit,
        labels=labels,
        datasets=datasets,
        api=table.api,
        stacked=True,
    )
