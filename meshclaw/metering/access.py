"""Whose usage a principal may read, and resolving the people and teams a reader filters on.

The decision is `identity.authorize`'s, from its table (`usage: read` is `own` for members, `team` for
managers, `all` for auditors and admins); this module turns it into a `Scope` for the queries. A filter
naming someone out of reach is refused with 403 and a reason rather than answered with an empty list,
which would read as "no usage". For a reader whose reach is not `all`, the refusal is the same whether
the person exists or not, so filters cannot be used to probe who exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.db.models import Team, User
from meshclaw.errors import NotFoundError, PermissionDeniedError
from meshclaw.identity import store
from meshclaw.identity.authorize import Resource, is_allowed, reach
from meshclaw.identity.principal import Principal
from meshclaw.metering.events import Source
from meshclaw.metering.queries import (
    SOURCES,
    InvalidQueryError,
    Scope,
    UsageFilters,
    as_id,
    parse_choice,
    parse_time,
)


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


def scope_for(principal: Principal) -> Scope:
    granted = reach(principal, "read", "usage")
    if granted is None:
        raise PermissionDeniedError("your role or API key does not allow reading usage")
    if granted == "all":
        return Scope.all()
    teams = principal.managed_team_ids if granted == "team" else frozenset()
    return Scope(everyone=False, user_id=principal.user_id, team_ids=teams)


def _out_of_reach(principal: Principal, what: str) -> PermissionDeniedError:
    if principal.managed_team_ids:
        why = "managers see the usage of their own team and the teams below it"
    else:
        why = "you may see only your own usage; leave the filter out or name yourself"
    return PermissionDeniedError(f"{what} is out of your reach: {why}")


def _find_user(session: Session, org_id: int, ref: str) -> User | None:
    ref = ref.strip()
    if ref.isascii() and ref.isdigit():
        user_id = as_id(ref)
        user = session.get(User, user_id) if user_id is not None else None
        return user if user is not None and user.org_id == org_id else None
    if "@" not in ref:
        raise InvalidQueryError(f"user must be a user id or an email address, not {ref[:60]!r}", field="user")
    return store.user_by_email(session, org_id, ref)


def _find_team(session: Session, org_id: int, ref: str) -> Team | None:
    ref = ref.strip()
    if ref.isascii() and ref.isdigit():
        team_id = as_id(ref)
        team = session.get(Team, team_id) if team_id is not None else None
        return team if team is not None and team.org_id == org_id else None
    return store.team_by_name(session, org_id, ref)


def _parse_agent(ref: str | None) -> int | None:
    if ref is None or not ref.strip():
        return None
    agent_id = as_id(ref)
    if agent_id is None:
        raise InvalidQueryError(f"agent must be an agent id (a number), not {ref[:40]!r}", field="agent")
    return agent_id


def resolve(session: Session, org_id: int, query: UsageQuery, *, principal: Principal | None) -> UsageFilters:
    """Parse and resolve a reader's filters. `principal=None` is the operator's CLI, which sees everyone.

    Raises 400 for malformed values, 403 for a person or team out of the principal's reach, and 404 for
    an unknown person or team when the reader could see them if they existed.
    """
    sees_all = principal is None or scope_for(principal).everyone
    since, until = parse_time(query.since, "since"), parse_time(query.until, "until")
    source: Source | None = parse_choice(query.source, SOURCES, "source") if query.source else None
    agent_id = _parse_agent(query.agent)
    user_id = team_id = None
    if query.user and query.user.strip():
        user = _find_user(session, org_id, query.user)
        if principal is not None and not sees_all:
            resource = Resource(kind="usage", owner_user_id=user.id, team_id=user.team_id) if user else None
            if resource is None or not is_allowed(principal, "read", resource):
                raise _out_of_reach(principal, f"user {query.user.strip()}")
        if user is None:
            raise NotFoundError(f"no user with id or email {query.user.strip()!r}", field="user")
        user_id = user.id
    if query.team and query.team.strip():
        team = _find_team(session, org_id, query.team)
        if principal is not None and not sees_all:
            resource = Resource(kind="usage", team_id=team.id) if team else None
            if resource is None or not is_allowed(principal, "read", resource):
                raise _out_of_reach(principal, f"team {query.team.strip()}")
        if team is None:
            raise NotFoundError(f"no team with id or name {query.team.strip()!r}", field="team")
        team_id = team.id
    return UsageFilters(
        since=since,
        until=until,
        user_id=user_id,
        team_id=team_id,
        agent_id=agent_id,
        source=source,
        model=query.model.strip() if query.model and query.model.strip() else None,
    )


def last_days(now: datetime, days: int) -> tuple[str, str]:
    """The since/until text for "the last `days` days, today included" (UTC days)."""
    today = now.date()
    return (today - timedelta(days=days - 1)).isoformat(), (today + timedelta(days=1)).isoformat()


def emails(session: Session, user_ids: set[int]) -> dict[int, str]:
    """Email addresses to show next to user ids in usage listings."""
    if not user_ids:
        return {}
    rows = session.execute(select(User.id, User.email).where(User.id.in_(sorted(user_ids))))
    return {user_id: email for user_id, email in rows}
