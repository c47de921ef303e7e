"""Who may see which Clarity numbers, decided by `identity.authorize` (kinds `clarity`, `clarity_team`,
`clarity_flag`, `clarity_settings`) and turned into what the queries need.

- A person's numbers (`clarity`): members their own, managers the people of their teams, auditors and
  admins everyone. Resolved with `identity.visibility.person_in_reach`.
- A team's aggregates (`clarity_team`): a team aggregate belongs to each of its members, so members see
  their own team's; managers see their teams', auditors and admins every team's. Teams with fewer than
  `MIN_TEAM_SIZE` people are shown only to readers who may see the people themselves (a small team's
  total is nearly one person's number), and never in organization-wide views.
- Organization-wide views list team aggregates only (teams of 5 or more), for everyone.
- Flags (`clarity_flag`): admins and auditors all, everyone else only their own; reviews by admins and
  auditors.
A refusal is the same 403 whether the person or team exists or not, so it hints at no data.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from meshclaw.clarity.people import MIN_TEAM_SIZE, Roster
from meshclaw.db.models import Team, User
from meshclaw.errors import NotFoundError, PermissionDeniedError
from meshclaw.identity import store
from meshclaw.identity.authorize import Resource, authorize, is_allowed, reach
from meshclaw.identity.principal import Principal
from meshclaw.identity.visibility import person_in_reach, read_scope
from meshclaw.metering.queries import Scope, as_id

_TEAM_REFUSED = "your role does not allow reading this team's Clarity numbers"


def person(session: Session, org_id: int, ref: str, principal: Principal | None) -> User:
    """The person named by id or email, if `principal` may see their numbers (None: the operator)."""
    return person_in_reach(session, org_id, ref, principal=principal, kind="clarity")


def sees_people_of(principal: Principal | None, team_id: int) -> bool:
    """Whether the reader may see the individual people of a team (managers of it, auditors, admins)."""
    if principal is None:
        return True
    granted = reach(principal, "read", "clarity")
    return granted == "all" or (granted == "team" and team_id in principal.managed_team_ids)


def _team_resource(principal: Principal, team_id: int) -> Resource:
    # A team's aggregate is owned by each of its members: "own" reach covers one's own team.
    owner = principal.user_id if principal.team_id == team_id else None
    return Resource(kind="clarity_team", team_id=team_id, owner_user_id=owner)


def sees_team(principal: Principal | None, team_id: int, roster: Roster) -> bool:
    """Whether the reader may see a team's aggregates (the rule `team()` enforces)."""
    if principal is None or reach(principal, "read", "clarity_team") == "all":
        return True
    if not is_allowed(principal, "read", _team_resource(principal, team_id)):
        return False
    return roster.team_sizes.get(team_id, 0) >= MIN_TEAM_SIZE or sees_people_of(principal, team_id)


def team(session: Session, org_id: int, ref: str, principal: Principal | None, roster: Roster) -> Team:
    """The team named by id or name, if the reader may see its aggregates; 403 otherwise, 404 unknown
    (only to readers who may see every team)."""
    ref = ref.strip()
    found: Team | None
    if (team_id := as_id(ref)) is not None:
        found = session.get(Team, team_id)
        found = found if found is not None and found.org_id == org_id else None
    else:
        found = store.team_by_name(session, org_id, ref)
    limited = principal is not None and reach(principal, "read", "clarity_team") != "all"
    if limited and (found is None or not sees_team(principal, found.id, roster)):
        raise PermissionDeniedError(_TEAM_REFUSED)
    if found is None:
        raise NotFoundError(f"no team with id or name {ref[:60]!r}", field="team")
    return found


def people_scope(principal: Principal | None) -> Scope:
    """Whose individual records the reader may sum without naming anyone: theirs, their teams', all."""
    if principal is None:
        return Scope.all()
    scope = read_scope(principal, "clarity")
    return Scope(everyone=scope.everyone, user_id=scope.user_id, team_ids=scope.team_ids)


def org_teams(roster: Roster) -> dict[int, str]:
    """Teams an organization-wide view may show: those with at least `MIN_TEAM_SIZE` people."""
    return {
        team_id: name
        for team_id, name in roster.team_names.items()
        if roster.team_sizes.get(team_id, 0) >= MIN_TEAM_SIZE
    }


@dataclass(frozen=True, kw_only=True)
class FlagReach:
    everyone: bool
    user_id: int | None


def flag_reach(principal: Principal | None) -> FlagReach:
    if principal is None or reach(principal, "read", "clarity_flag") == "all":
        return FlagReach(everyone=True, user_id=None)
    if reach(principal, "read", "clarity_flag") is None:
        raise PermissionDeniedError("your role or API key does not allow reading flags")
    return FlagReach(everyone=False, user_id=principal.user_id)


def may_review(principal: Principal) -> None:
    authorize(principal, "update", Resource(kind="clarity_flag"))


def may_change_settings(principal: Principal) -> None:
    authorize(principal, "manage", Resource(kind="clarity_settings"))
