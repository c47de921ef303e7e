"""/clarity/export/<table>.csv and .json: any table of the Clarity pages, for the same range and
subject, with the same visibility (the builders ask `meshclaw.clarity.access`).

Answers are streamed: a `StreamingResponse` over a generator that writes the header, then each row as
it is produced. The daily-usage export (`usage-records`, up to a year of every visible person per day
and model) reads its rows from a server-side cursor in its own session while the response is written,
so millions of rows never sit in memory. Refusals (403), unknown subjects (404) and bad ranges (400)
happen before the first byte, as proper error answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response, StreamingResponse

from meshclaw.api.deps import Context
from meshclaw.clarity.ranges import MAX_DAYS as YEAR_DAYS
from meshclaw.errors import NotFoundError
from meshclaw.web.clarity_builders import (
    GROUP_LABELS,
    Ask,
    adoption,
    adoption_teams,
    budgets,
    flags,
    leaderboard,
    outcomes,
    usage,
)
from meshclaw.web.clarity_page import RangeQuery
from meshclaw.web.clarity_range import MAX_DAYS, pick_range
from meshclaw.web.clarity_records import usage_records
from meshclaw.web.clarity_tables import Table, chunked, csv_lines, json_chunks
from meshclaw.web.deps import PageViewer

router = APIRouter(include_in_schema=False)

MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def _usage_builder(group_by: str | None, daily: bool) -> Callable[[Ask], Table]:
    return lambda ask: usage(ask, group_by, daily=daily)


EXPORTS: dict[str, Callable[[Ask], Table]] = {
    "adoption": lambda ask: adoption(ask).weeks,
    "adoption-teams": adoption_teams,
    "outcomes": lambda ask: outcomes(ask)[0],
    "leaderboard": leaderboard,
    "flags": flags,
    "budgets": budgets,
    "usage-records": usage_records,
    "usage-total-daily": _usage_builder(None, True),
    **{f"usage-{group}": _usage_builder(group, False) for group in GROUP_LABELS},
    "usage-model-daily": _usage_builder("model", True),
}
"""Every exportable table by name; the pages build the same tables."""


@router.get("/clarity/export/{name}.{fmt}")
def export(
    name: Annotated[str, Path(max_length=40)],
    fmt: Literal["csv", "json"],
    viewer: PageViewer,
    context: Context,
    params: RangeQuery,
    team: Annotated[str | None, Query(max_length=200)] = None,
    user: Annotated[str | None, Query(max_length=320)] = None,
    agent: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    build = EXPORTS.get(name)
    if build is None:
        raise NotFoundError(f"no Clarity table named {name[:40]!r}; the export links on each page name them")
    # Daily usage may be exported for up to a year; the page tables keep the pages' half-year limit.
    limit = YEAR_DAYS if name == "usage-records" else MAX_DAYS
    today = context.clock.now().date()
    window = pick_range(params.first, params.last, params.days, today=today, max_days=limit)
    with context.db.session() as session:
        table = build(
            Ask(
                session=session,
                context=context,
                principal=viewer.principal,
                window=window,
                team=team or None,
                user=user or None,
                agent=agent,
            )
        )
    filename = f"clarity-{table.name}-{window.first}-{window.last}.{fmt}"
    chunks = chunked(csv_lines(table) if fmt == "csv" else json_chunks(table))
    return StreamingResponse(
        chunks, media_type=MEDIA[fmt], headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )
