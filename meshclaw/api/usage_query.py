"""Turning a usage request into what metering's queries take: the caller's `Scope` and `UsageFilters`.

Shared by the API, the CLI and the web pages, so the same input is read (and refused) the same way
everywhere. Who may see what is decided in `identity` (`read_scope`, `person_in_reach`, ...); the query
types and the parsing of times and choices are `metering`'s. The two core packages do not import each
other, so they meet here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from meshclaw.errors import BadRequestError
from meshclaw.identity.principal import Principal
from meshclaw.identity.visibility import person_in_reach, read_scope, team_in_reach
from meshclaw.metering.events import Source
from meshclaw.metering.queries import SOURCES, Scope, UsageFilters, as_id, parse_choice, parse_time


@dataclass(frozen=True, kw_only=True)
class UsageQuery:
    """Filters as a reader typed them: people by id or email, teams by id or name, times as ISO text."""

    since: str | None = None
    until: str | None = None
    user: str | None = None
    team: str | None = None
    agent: str | None = None
    source: str | None = None
    model: str | None = None


def usage_scope(principal: Principal) -> Scope:
    """Whose usage `principal` may read: their own, their team subtree's (managers) or everyone's."""
    scope = read_scope(principal, "usage")
    return Scope(everyone=scope.everyone, user_id=scope.user_id, team_ids=scope.team_ids)


def _given(value: str | None) -> str | None:
    return value.strip() if value is not None and value.strip() else None


def resolve_filters(
    session: Session, org_id: int, query: UsageQuery, *, principal: Principal | None
) -> UsageFilters:
    """Parse and resolve a reader's filters; `principal=None` is the operator's CLI, which sees everyone.

    400 for malformed values, 403 for a person or team out of the principal's reach, 404 for one that
    does not exist (to readers who could see it if it did).
    """
    since, until = parse_time(query.since, "since"), parse_time(query.until, "until")
    source_text = _given(query.source)
    source: Source | None = parse_choice(source_text, SOURCES, "source") if source_text else None
    agent_id = None
    if agent := _given(query.agent):
        agent_id = as_id(agent)
        if agent_id is None:
            raise BadRequestError(f"agent must be an agent id (a number), not {agent[:40]!r}", field="agent")
    user_id = team_id = None
    if user := _given(query.user):
        user_id = person_in_reach(session, org_id, user, principal=principal, kind="usage").id
    if team := _given(query.team):
        team_id = team_in_reach(session, org_id, team, principal=principal, kind="usage").id
    return UsageFilters(
        since=since,
        until=until,
        user_id=user_id,
        team_id=team_id,
        agent_id=agent_id,
        source=source,
        model=_given(query.model),
    )
