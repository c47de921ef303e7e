"""The daily-usage export (`usage-records`): usage per day, person, team and model, streamed from the
day rollups for exports of any size.

A year of 5,000 people is millions of rows, so the rows come from a server-side cursor (`yield_per`)
in the generator's own session while the response is written, never gathered in a list. Whose rows:
what the reader may see of individuals (`clarity.access.people_scope`); a named team only for those
who may see its people.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from sqlalchemy import func, select

from meshclaw.api.clarity_shapes import usd
from meshclaw.clarity import access
from meshclaw.clarity.measures import effective_tokens, total_tokens
from meshclaw.clarity.people import load_roster
from meshclaw.clarity.ranges import DateRange
from meshclaw.db.models import Team, UsageRollup, User
from meshclaw.errors import PermissionDeniedError
from meshclaw.metering.queries import scope_clause
from meshclaw.web.clarity_builders import USAGE_COLUMNS, Ask
from meshclaw.web.clarity_tables import Column, Table, Value


def usage_records(ask: Ask) -> Table:
    """Daily usage per person, team and model, streamed from the day rollups for exports of any size
    (a year of 5,000 people is millions of rows): rows come from a server-side cursor as the response
    is written, never gathered in a list. Whose rows: what the reader may see of individuals."""
    scope = access.people_scope(ask.principal)
    user_id = team_id = None
    if ask.user:
        user_id = access.person(ask.session, ask.principal.org_id, ask.user, ask.principal).id
    elif ask.team:
        roster = load_roster(ask.session, ask.principal.org_id)
        found = access.team(ask.session, ask.principal.org_id, ask.team, ask.principal, roster)
        if not access.sees_people_of(ask.principal, found.id):
            raise PermissionDeniedError("your role shows this team's aggregates only, not per person")
        team_id = found.id
    window = DateRange(since=ask.window.first, until=date.fromisoformat(ask.window.until))
    db = ask.context.db

    def stream() -> Iterator[tuple[Value, ...]]:
        r = UsageRollup
        where = [
            r.bucket == "day",
            r.bucket_start >= window.start,
            r.bucket_start < window.end,
            scope_clause(scope, r.user_id, r.team_id),
        ]
        if user_id is not None:
            where.append(r.user_id == user_id)
        if team_id is not None:
            where.append(r.team_id == team_id)
        query = (
            select(
                r.bucket_start,
                Team.name,
                User.email,
                r.model,
                func.sum(r.requests),
                func.sum(r.errors),
                total_tokens(),
                effective_tokens(),
                func.sum(r.cost_microusd),
            )
            .outerjoin(User, User.id == r.user_id)
            .outerjoin(Team, Team.id == r.team_id)
            .where(*where)
            .group_by(r.bucket_start, r.user_id, r.team_id, r.model, Team.name, User.email)
            .order_by(r.bucket_start, r.user_id, r.model)
            .execution_options(yield_per=2000)
        )
        with db.session() as session:
            for day, team, email, model, requests, errors, tokens, effective, cost in session.execute(query):
                yield (
                    day.date(),
                    team,
                    email,
                    model or None,
                    int(requests or 0),
                    int(errors or 0),
                    int(tokens or 0),
                    round(float(effective or 0.0), 1),
                    usd(int(cost or 0)),
                )

    return Table(
        name="usage-records",
        caption="Daily usage per person and model",
        columns=(
            Column(key="day", label="Day", unit="date"),
            Column(key="team", label="Team", unit="text"),
            Column(key="person", label="Person", unit="text"),
            Column(key="model", label="Model", unit="text"),
            *USAGE_COLUMNS,
        ),
        rows=(),
        empty="No AI use recorded in this range.",
        api=ask.api("usage", group_by="user", series=True, team=ask.team, user=ask.user),
        export_query=ask.export_query,
        stream=stream,
    )
