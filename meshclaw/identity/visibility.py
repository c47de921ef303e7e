"""Whose records a principal may read, and the people and teams a reader names in a filter.

`authorize.reach()` says how far a principal may read a kind of resource (`own`, `team` or `all`);
`read_scope()` turns that into the ids a query needs. Readers of attributed data (usage today, outcomes
later) filter by person or team; `person_in_reach()` and `team_in_reach()` resolve such a reference and
refuse one out of reach with a 403 that says why, rather than letting the query answer an empty list
(which would read as "no usage"). For a reader whose reach is not `all` the refusal is the same whether
the person exists or not, so filters cannot be used to probe who exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from meshclaw.db.models import Team, User
from meshclaw.db.row_ids import row_id_of
from meshclaw.errors import BadRequestError, NotFoundError, PermissionDeniedError
from meshclaw.identity import store
from meshclaw.identity.authorize import Resource, ResourceKind, is_allowed, reach
from meshclaw.identity.principal import Principal


@dataclass(frozen=True, kw_only=True)
class ReadScope:
    """Everyone's records, or one person's plus those stamped with some teams."""

    everyone: bool
    user_id: int | None = None
    """The reader's own records are always in scope."""
    team_ids: frozenset[int] = frozenset()
    """Records stamped with one of these teams (a manager's team and the teams below it)."""


def read_scope(principal: Principal, kind: ResourceKind) -> ReadScope:
    granted = reach(principal, "read", kind)
    if granted is None:
        raise PermissionDeniedError(f"your role or API key does not allow reading {kind}")
    if granted == "all":
        return ReadScope(everyone=True)
    teams = principal.managed_team_ids if granted == "team" else frozenset()
    return ReadScope(everyone=False, user_id=principal.user_id, team_ids=teams)


def _is_number(ref: str) -> bool:
    return ref.isascii() and ref.isdigit()  # however long: one past 64 bits is an id no row has


def _out_of_reach(principal: Principal, kind: ResourceKind, what: str) -> PermissionDeniedError:
    if principal.managed_team_ids:
        why = f"managers see the {kind} of their own team and the teams below it"
    else:
        why = f"you may see only your own {kind}; leave the filter out or name yourself"
    return PermissionDeniedError(f"{what} is out of your reach: {why}")


def person_in_reach(
    session: Session, org_id: int, ref: str, *, principal: Principal | None, kind: ResourceKind
) -> User:
    """The user named by id or email, if `principal` may read their `kind` (None: the operator's CLI).

    Raises 400 for a reference that is neither, 403 out of reach, 404 unknown (only to those who could
    see the person if they existed).
    """
    ref = ref.strip()
    user: User | None
    if _is_number(ref):
        user_id = row_id_of(ref)
        user = session.get(User, user_id) if user_id is not None else None
        user = user if user is not None and user.org_id == org_id else None
    elif "@" in ref:
        user = store.user_by_email(session, org_id, ref)
    else:
        raise BadRequestError(f"user must be a user id or an email address, not {ref[:60]!r}", field="user")
    if principal is not None and not read_scope(principal, kind).everyone:
        resource = Resource(kind=kind, owner_user_id=user.id, team_id=user.team_id) if user else None
        if resource is None or not is_allowed(principal, "read", resource):
            raise _out_of_reach(principal, kind, f"user {ref}")
    if user is None:
        raise NotFoundError(f"no user with id or email {ref!r}", field="user")
    return user


def team_in_reach(
    session: Session, org_id: int, ref: str, *, principal: Principal | None, kind: ResourceKind
) -> Team:
    """The team named by id or name, if `principal` may read its `kind` (None: the operator's CLI)."""
    ref = ref.strip()
    team: Team | None
    if _is_number(ref):
        team_id = row_id_of(ref)
        team = session.get(Team, team_id) if team_id is not None else None
        team = team if team is not None and team.org_id == org_id else None
    else:
        team = store.team_by_name(session, org_id, ref)
    if principal is not None and not read_scope(principal, kind).everyone:
        resource = Resource(kind=kind, team_id=team.id) if team else None
        if resource is None or not is_allowed(principal, "read", resource):
            raise _out_of_reach(principal, kind, f"team {ref}")
    if team is None:
        raise NotFoundError(f"no team with id or name {ref!r}", field="team")
    return team
