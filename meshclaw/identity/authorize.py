"""The one authorization decision: `authorize(principal, action, resource)`.

Permissions are data, not branches scattered through handlers: `PERMISSIONS` maps a role and a resource
kind to the reach each action has. Reach is one of

- `all`: any resource of that kind in the organization,
- `team`: resources belonging to the principal or to a team the principal manages (managers only),
- `own`: resources that belong to the principal,
- absent: nothing.

`reach()` answers the question for lists (the store turns the reach into a WHERE clause) and `authorize()`
for a single resource; both read the same table, so a list can never show what a lookup would refuse.
API keys narrow this further by scope: reads need `api:read`, every other action `api:write`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from meshclaw.errors import PermissionDeniedError
from meshclaw.identity.principal import KeyScope, Principal, Role

Action = Literal["read", "create", "update", "manage", "delete"]
"""`update` changes ordinary fields (a name, one's own password); `manage` changes what grants power
(role, team, manager, active) or acts for someone else."""

ResourceKind = Literal[
    "organization",
    "team",
    "user",
    "api_key",
    "usage",
    "price",
    "provider",
    "budget",
    "clarity",
    "clarity_team",
    "clarity_flag",
    "clarity_settings",
    "agent",
    "agent_memory",
    "audit",
    "vault_secret",
    "policy",
    "connector_account",
]
"""`usage`: metered model calls, owned by the person they are attributed to (team: their team at the
time of the call). `price`: the model price table, readable by everyone so costs can be explained.
`provider`: the model upstreams; admins configure them, auditors may read them (names of key variables,
never key values); members and managers see models through the gateway's model list instead.
`budget`: a budget or rate limit on an API key, a person, a team or an agent. It belongs to the person it
limits (a key's: the key's owner) and, for a team's budget, to each member of that team, since their calls
count against it; `team` reach adds budgets on the managed teams, their people and their keys. Only admins
set and remove budgets: a manager who could raise their own team's cap would make it no cap.
`clarity`: a person's Clarity numbers (adoption, outcomes, value), owned by that person.
`clarity_team`: a team's Clarity aggregates, owned by each member of the team (members see their own
team's; small teams are hidden further by `meshclaw.clarity.access`).
`clarity_flag`: a tokenmaxxing flag, owned by the person it is about; only admins and auditors see
others' flags and review them (managers do not: a flag is an invitation to review, not a team metric).
`clarity_settings`: the adoption goal and rule and the per-team leaderboard switches; admins change them.
`agent`: an agent definition and its versions, owned by the person it acts for. Everyone creates and
changes their own (`update` also enables and disables); managers read their teams' agents, auditors all;
admins manage everyone's, and only `create` with reach `all` lets one act for another owner.
`agent_memory`: what an agent remembers, owned by the agent's owner: it can hold the owner's private
matters, so managers do not read their teams' (unlike the definitions); the owner and admins add,
invalidate and confirm items, auditors read.
`audit`: the tamper-evident audit log (its records, export and verification): admins and auditors read
it; nobody writes it through an action (records are appended by the code that does the audited thing).
`vault_secret`: an encrypted secret, owned by a person or (no owner) by the organization. Only metadata is
ever shown; the owner and admins create, replace and delete; organization secrets are admins' alone.
`policy`: the policy gate's organization rows (the egress allowlist, pre-approvals per agent). Everyone
reads them, so people can see why their agent was asked to wait; only admins change them.
`connector_account`: a mailbox, chat workspace, calendar or deploy target agents act through, owned by a
person or (no owner) by the organization. People add and change their own; organization accounts are
admins' alone; everyone may list the organization's (their configs hold no secrets) to grant them."""
Reach = Literal["all", "team", "own"]

ACTIONS: tuple[Action, ...] = ("read", "create", "update", "manage", "delete")
RESOURCE_KINDS: tuple[ResourceKind, ...] = (
    "organization",
    "team",
    "user",
    "api_key",
    "usage",
    "price",
    "provider",
    "budget",
    "clarity",
    "clarity_team",
    "clarity_flag",
    "clarity_settings",
    "agent",
    "agent_memory",
    "audit",
    "vault_secret",
    "policy",
    "connector_account",
)

_ADMIN_ALL: dict[Action, Reach] = {action: "all" for action in ACTIONS}

PERMISSIONS: dict[Role, dict[ResourceKind, dict[Action, Reach]]] = {
    Role.ADMIN: {kind: _ADMIN_ALL for kind in RESOURCE_KINDS},
    Role.AUDITOR: {
        "organization": {"read": "all"},
        "team": {"read": "all"},
        "user": {"read": "all", "update": "own"},
        "api_key": {"read": "all", "create": "own", "delete": "own"},
        "usage": {"read": "all"},
        "price": {"read": "all"},
        "provider": {"read": "all"},
        "budget": {"read": "all"},
        "clarity": {"read": "all"},
        "clarity_team": {"read": "all"},
        "clarity_flag": {"read": "all", "update": "all"},
        "clarity_settings": {"read": "all"},
        "agent": {"read": "all", "create": "own", "update": "own"},
        "agent_memory": {"read": "all", "create": "own", "update": "own"},
        "audit": {"read": "all"},
        "vault_secret": {"read": "own", "create": "own", "update": "own", "delete": "own"},
        "policy": {"read": "all"},
        "connector_account": {"read": "all", "create": "own", "update": "own", "delete": "own"},
    },
    Role.MANAGER: {
        "organization": {"read": "all"},
        "team": {"read": "all"},
        "user": {"read": "team", "update": "own"},
        "api_key": {"read": "own", "create": "own", "delete": "own"},
        "usage": {"read": "team"},
        "price": {"read": "all"},
        "budget": {"read": "team"},
        "clarity": {"read": "team"},
        "clarity_team": {"read": "team"},
        "clarity_flag": {"read": "own"},
        "clarity_settings": {"read": "all"},
        "agent": {"read": "team", "create": "own", "update": "own"},
        "agent_memory": {"read": "own", "create": "own", "update": "own"},
        "vault_secret": {"read": "own", "create": "own", "update": "own", "delete": "own"},
        "policy": {"read": "all"},
        "connector_account": {"read": "own", "create": "own", "update": "own", "delete": "own"},
    },
    Role.MEMBER: {
        "organization": {"read": "all"},
        "team": {"read": "all"},
        "user": {"read": "own", "update": "own"},
        "api_key": {"read": "own", "create": "own", "delete": "own"},
        "usage": {"read": "own"},
        "price": {"read": "all"},
        "budget": {"read": "own"},
        "clarity": {"read": "own"},
        "clarity_team": {"read": "own"},
        "clarity_flag": {"read": "own"},
        "clarity_settings": {"read": "all"},
        "agent": {"read": "own", "create": "own", "update": "own"},
        "agent_memory": {"read": "own", "create": "own", "update": "own"},
        "vault_secret": {"read": "own", "create": "own", "update": "own", "delete": "own"},
        "policy": {"read": "all"},
        "connector_account": {"read": "own", "create": "own", "update": "own", "delete": "own"},
    },
}


@dataclass(frozen=True, kw_only=True)
class Resource:
    """What is being acted on. Leave `id` unset for a collection (listing, creating)."""

    kind: ResourceKind
    id: int | None = None
    owner_user_id: int | None = None
    """The person the resource belongs to (a user is their own owner)."""
    team_id: int | None = None
    """The owner's team, for `team` reach."""


def _key_allows(principal: Principal, action: Action) -> bool:
    if principal.key_scopes is None:
        return True
    needed = KeyScope.API_READ if action == "read" else KeyScope.API_WRITE
    return needed in principal.key_scopes


def reach(principal: Principal, action: Action, kind: ResourceKind) -> Reach | None:
    """How far `principal` may perform `action` on resources of `kind`; None means not at all."""
    if not _key_allows(principal, action):
        return None
    return PERMISSIONS[principal.role].get(kind, {}).get(action)


def is_allowed(principal: Principal, action: Action, resource: Resource) -> bool:
    granted = reach(principal, action, resource.kind)
    if granted is None:
        return False
    if granted == "all":
        return True
    owns = resource.owner_user_id is not None and resource.owner_user_id == principal.user_id
    if granted == "own":
        return owns
    return owns or (resource.team_id is not None and resource.team_id in principal.managed_team_ids)


def authorize(principal: Principal, action: Action, resource: Resource) -> None:
    """Raise `PermissionDeniedError` unless allowed. The message never reveals whether the resource exists."""
    if not is_allowed(principal, action, resource):
        raise PermissionDeniedError(
            f"your role does not allow '{action}' on {resource.kind.replace('_', ' ')}s here"
        )
