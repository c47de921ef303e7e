"""/usage: "My usage", each person's own AI usage over the last 30 days.

Everything on the page comes from the rollups through `metering.summary` (one summary per breakdown),
scoped to the signed-in person whatever their role: this is their own page, the organization-wide views
belong to the Clarity dashboard. The chart is drawn by the vendored Chart.js from a JSON data block, as
on the Clarity pages (`clarity_charts.py`), so it works under the Content-Security-Policy; the same
numbers are in the tables below it for screen readers and for copying.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from meshclaw.api.deps import Context
from meshclaw.identity.authorize import Resource, authorize, is_allowed
from meshclaw.metering.queries import Dimension, Scope, UsageFilters
from meshclaw.metering.summary import Group, Measures, summarize
from meshclaw.web.clarity_charts import Chart, Dataset
from meshclaw.web.deps import PageViewer
from meshclaw.web.render import render

router = APIRouter(include_in_schema=False)

DAYS = 30
SOURCE_NAMES = {
    "gateway": "MeshClaw gateway",
    "agent": "MeshClaw agents",
    "otlp": "Tool telemetry (OpenTelemetry)",
    "import": "Imported reports",
}


def tokens_text(value: int) -> str:
    """Compact counts for cards and charts: 950, 12.3k, 4.56M."""
    if value < 1000:
        return str(value)
    if value < 1_000_000:
        return f"{value / 1000:.1f}k"
    return f"{value / 1_000_000:.2f}M"


def usd_text(micro: int) -> str:
    """Under a dollar, keep fractions of a cent: single AI calls often cost less than one."""
    usd = micro / 1_000_000
    if usd == 0:
        return "$0"
    if usd < 1:
        return f"${usd:.4f}"
    return f"${usd:,.2f}"


@dataclass(frozen=True, kw_only=True)
class Row:
    """One line of a breakdown table, already formatted."""

    name: str
    requests: str
    errors: int
    tokens: str
    tokens_exact: str
    cost: str
    share: int
    """Percent of the period's cost (or of its tokens when nothing was priced)."""


def _row(name: str, measures: Measures, total: Measures) -> Row:
    if total.cost_microusd:
        share = round(100 * measures.cost_microusd / total.cost_microusd)
    else:
        share = round(100 * measures.total_tokens / total.total_tokens) if total.total_tokens else 0
    return Row(
        name=name,
        requests=f"{measures.requests:,}",
        errors=measures.errors,
        tokens=tokens_text(measures.total_tokens),
        tokens_exact=f"{measures.total_tokens:,}",
        cost=usd_text(measures.cost_microusd),
        share=share,
    )


def _name(dimension: Dimension, group: Group) -> str:
    if group.key is None:
        return {"client": "unknown app", "model": "unknown model"}.get(dimension, "none")
    if dimension == "source":
        return SOURCE_NAMES.get(str(group.key), str(group.key))
    return group.label or str(group.key)


def _chart(first: date, per_day: dict[date, Measures], user_id: int) -> Chart:
    days = [first + timedelta(days=index) for index in range(DAYS)]
    until = first + timedelta(days=DAYS)
    return Chart(
        id="chart-usage-daily",
        title="Tokens per day",
        kind="bar",
        unit="tokens",
        labels=[f"{day:%a %d %b}" for day in days],
        datasets=[
            Dataset(label="Tokens", data=[float(per_day.get(day, Measures()).total_tokens) for day in days])
        ],
        api=f"/api/v1/usage/summary?group_by=user&series=true&since={first}&until={until}&user={user_id}",
    )


def own_days(user_id: int, today: date, days: int) -> tuple[Scope, UsageFilters]:
    """A person's own usage over the last `days` UTC days, today included: the scope and filters."""
    since = datetime.combine(today - timedelta(days=days - 1), time(), tzinfo=UTC)
    filters = UsageFilters(since=since, until=since + timedelta(days=days), user_id=user_id)
    return Scope(everyone=False, user_id=user_id), filters


@router.get("/usage")
def my_usage(request: Request, viewer: PageViewer, context: Context) -> Response:
    principal = viewer.principal
    authorize(
        principal, "read", Resource(kind="usage", owner_user_id=principal.user_id, team_id=principal.team_id)
    )
    today = context.clock.now().date()
    first = today - timedelta(days=DAYS - 1)
    mine, filters = own_days(principal.user_id, today, DAYS)
    with context.db.session() as session:
        daily = summarize(session, mine, filters, group_by=None, series=True)
        dimensions: tuple[Dimension, ...] = ("model", "client", "source")
        breakdowns = {
            dimension: summarize(session, mine, filters, group_by=dimension) for dimension in dimensions
        }
    total = daily.totals
    per_day = {group.period_start.date(): group.measures for group in daily.groups if group.period_start}
    busiest = max(per_day.items(), key=lambda item: item[1].total_tokens, default=None)
    tables = {
        dimension: [_row(_name(dimension, g), g.measures, total) for g in summary.groups]
        for dimension, summary in breakdowns.items()
    }
    buckets = [
        ("Input", "read at the full price", total.input_uncached),
        ("Cache read", "input served from the provider's prompt cache", total.cache_read),
        ("Cache write", "input written to the prompt cache", total.cache_write),
        ("Output", "visible answer", total.output),
        ("Reasoning", "hidden thinking, billed as output", total.reasoning),
    ]
    return render(
        request,
        "usage.html",
        first=first,
        today=today,
        days=DAYS,
        total=total,
        total_tokens=tokens_text(total.total_tokens),
        total_tokens_exact=f"{total.total_tokens:,}",
        total_cost=usd_text(total.cost_microusd),
        active_days=len(per_day),
        busiest=(busiest[0], f"{busiest[1].total_tokens:,}") if busiest else None,
        chart=_chart(first, per_day, principal.user_id),
        day_rows=[_row(f"{day:%a %d %b}", per_day[day], total) for day in sorted(per_day, reverse=True)],
        tables=tables,
        buckets=[(name, help, f"{value:,}") for name, help, value in buckets],
        can_edit_prices=is_allowed(principal, "create", Resource(kind="price")),
    )
