"""/api/v1/usage: metered model calls, one by one and summed.

The reading and the authorization live in `metering` (queries, summary, access); this router only turns
query parameters into a `UsageQuery` and results into JSON. Prompt and response text are never stored,
so they cannot appear here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.usage_query import UsageQuery, resolve_filters, usage_scope
from meshclaw.db.models import UsageEventRow
from meshclaw.metering.queries import (
    DIMENSIONS,
    PERIODS,
    Dimension,
    Period,
    list_events,
    parse_choice,
)
from meshclaw.metering.summary import Group, Measures, Summary, summarize

router = APIRouter(prefix="/usage", tags=["usage"])

_FILTER_HELP = {
    "since": "Start, inclusive: ISO 8601 date or date-time (UTC when no offset is given)",
    "until": "End, exclusive: ISO 8601 date or date-time (UTC when no offset is given)",
    "user": "A user id or email",
    "team": "A team id or name: calls made while the person was in that team (teams below it not included)",
    "agent": "An agent id",
    "source": "gateway, agent, otlp or import",
    "model": "The model that answered",
}


class UsageEventOut(BaseModel):
    id: str = Field(description="The event's unique id")
    started_at: datetime
    ended_at: datetime
    latency_ms: int
    status: str = Field(description="ok, error or cancelled")
    error: str | None = Field(description="A short description of what failed (never prompt text)")
    provider: str | None
    operation: str
    requested_model: str | None
    model: str | None
    input_uncached: int
    cache_read: int
    cache_write: int
    output: int
    reasoning: int
    total_tokens: int
    cost_usd: float
    user_id: int | None
    user_email: str | None
    team_id: int | None = Field(description="The person's team at the time of the call")
    agent_id: int | None
    run_id: str | None
    api_key_id: int | None
    client: str | None
    source: str
    initiator: str = Field(description="human or automation")


class UsagePage(BaseModel):
    items: list[UsageEventOut]
    next_cursor: str | None = Field(description="Send as `cursor` for the next, older page; null at the end")
    limit: int


class MeasuresOut(BaseModel):
    requests: int
    errors: int
    input_uncached: int
    cache_read: int
    cache_write: int
    output: int
    reasoning: int
    total_tokens: int
    cost_usd: float


class GroupOut(MeasuresOut):
    key: int | str | None = Field(
        description="User, team or agent id, or model, client or source name; null for none recorded"
    )
    label: str | None = Field(
        description="A user's email, a team's name, an agent's name and its owner's email, else the key"
    )
    period_start: datetime | None = Field(description="The bucket's start, when series=true")


class SummaryOut(BaseModel):
    group_by: Dimension | None
    period: Period
    series: bool
    since: datetime | None = Field(
        description="Start of the window summed: `since` rounded down to the period"
    )
    until: datetime | None = Field(description="End of the window summed: `until` rounded up to the period")
    groups: list[GroupOut]
    totals: MeasuresOut


def measures_out(measures: Measures) -> dict[str, int | float]:
    return {
        "requests": measures.requests,
        "errors": measures.errors,
        "input_uncached": measures.input_uncached,
        "cache_read": measures.cache_read,
        "cache_write": measures.cache_write,
        "output": measures.output,
        "reasoning": measures.reasoning,
        "total_tokens": measures.total_tokens,
        "cost_usd": measures.cost_usd,
    }


def _group_out(group: Group) -> GroupOut:
    return GroupOut(
        key=group.key, label=group.label, period_start=group.period_start, **measures_out(group.measures)
    )


def summary_out(summary: Summary) -> SummaryOut:
    """The one JSON shape of a summary: the API answers with it and `meshclaw usage --json` prints it."""
    return SummaryOut(
        group_by=summary.group_by,
        period=summary.period,
        series=summary.series,
        since=summary.since,
        until=summary.until,
        groups=[_group_out(group) for group in summary.groups],
        totals=MeasuresOut(**measures_out(summary.totals)),
    )


def _event_out(row: UsageEventRow, emails: dict[int, str]) -> UsageEventOut:
    return UsageEventOut(
        id=row.event_id,
        started_at=row.started_at,
        ended_at=row.ended_at,
        latency_ms=row.latency_ms,
        status=row.status,
        error=row.error,
        provider=row.provider,
        operation=row.operation,
        requested_model=row.requested_model,
        model=row.model,
        input_uncached=row.input_uncached,
        cache_read=row.cache_read,
        cache_write=row.cache_write,
        output=row.output,
        reasoning=row.reasoning,
        total_tokens=row.input_uncached + row.cache_read + row.cache_write + row.output + row.reasoning,
        cost_usd=round(row.cost_microusd / 1_000_000, 6),
        user_id=row.user_id,
        user_email=emails.get(row.user_id) if row.user_id is not None else None,
        team_id=row.team_id,
        agent_id=row.agent_id,
        run_id=row.run_id,
        api_key_id=row.api_key_id,
        client=row.client,
        source=row.source,
        initiator=row.initiator,
    )


@router.get("", response_model=UsagePage)
def list_usage(
    principal: CurrentPrincipal,
    context: Context,
    since: Annotated[str | None, Query(description=_FILTER_HELP["since"])] = None,
    until: Annotated[str | None, Query(description=_FILTER_HELP["until"])] = None,
    user: Annotated[str | None, Query(description=_FILTER_HELP["user"])] = None,
    team: Annotated[str | None, Query(description=_FILTER_HELP["team"])] = None,
    agent: Annotated[str | None, Query(description=_FILTER_HELP["agent"])] = None,
    source: Annotated[str | None, Query(description=_FILTER_HELP["source"])] = None,
    model: Annotated[str | None, Query(description=_FILTER_HELP["model"])] = None,
    limit: Annotated[int, Query(description="Events per page, 1 to 1000")] = 100,
    cursor: Annotated[str | None, Query(description="The next_cursor of the previous page")] = None,
) -> UsagePage:
    """Usage events the caller may see, newest first, one page at a time (keyset pagination)."""
    query = UsageQuery(
        since=since, until=until, user=user, team=team, agent=agent, source=source, model=model
    )
    scope = usage_scope(principal)
    with context.db.session() as session:
        filters = resolve_filters(session, principal.org_id, query, principal=principal)
        page = list_events(session, scope, filters, limit=limit, cursor=cursor)
        items = [_event_out(row, page.user_emails) for row in page.rows]
    return UsagePage(items=items, next_cursor=page.next_cursor, limit=limit)


@router.get("/summary", response_model=SummaryOut)
def usage_summary(
    principal: CurrentPrincipal,
    context: Context,
    group_by: Annotated[str, Query(description="user, team, agent, model, client or source")] = "user",
    period: Annotated[
        str, Query(description="hour or day: the rollups read, and so the rounding of since/until")
    ] = "day",
    series: Annotated[bool, Query(description="One row per group and period instead of per group")] = False,
    since: Annotated[
        str | None, Query(description=_FILTER_HELP["since"] + "; rounded down to the period")
    ] = None,
    until: Annotated[
        str | None, Query(description=_FILTER_HELP["until"] + "; rounded up to the period")
    ] = None,
    user: Annotated[str | None, Query(description=_FILTER_HELP["user"])] = None,
    team: Annotated[str | None, Query(description=_FILTER_HELP["team"])] = None,
    agent: Annotated[str | None, Query(description=_FILTER_HELP["agent"])] = None,
    source: Annotated[str | None, Query(description=_FILTER_HELP["source"])] = None,
    model: Annotated[str | None, Query(description=_FILTER_HELP["model"])] = None,
) -> SummaryOut:
    """Requests, errors, tokens per bucket and cost per group, summed from the hourly or daily rollups
    (never from raw events). The window is widened to whole periods (UTC hours or days): `since` is
    rounded down and `until` up, and the answer's `since`/`until` say what was really summed."""
    dimension = parse_choice(group_by, DIMENSIONS, "group_by")
    resolution = parse_choice(period, PERIODS, "period")
    query = UsageQuery(
        since=since, until=until, user=user, team=team, agent=agent, source=source, model=model
    )
    scope = usage_scope(principal)
    with context.db.session() as session:
        filters = resolve_filters(session, principal.org_id, query, principal=principal)
        summary = summarize(session, scope, filters, group_by=dimension, period=resolution, series=series)
    return summary_out(summary)
