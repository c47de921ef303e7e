"""A grant narrowed by scopes: the folders, channels, services, environments and recipient domains an
agent may touch with one tool.

Each scope kind constrains the arguments of that name (the connectors' convention): `folders` the
`folder`, `source_folder` and `target_folder` arguments, `environments` the `environment` argument, and
`recipient_domains` the domain of every destination in the call. A call is in scope when every
constrained argument it has holds an allowed value; values may use shell-style wildcards (`staging-*`). An
argument the tool has but the call leaves empty (None, []) usually means "all of them", so a narrowed
grant refuses it.
A scope kind this module does not know is refused when the grant is checked, so a typo cannot widen a
grant by being ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from meshclaw.agents.spec import ToolGrant
from meshclaw.policy.destinations import destinations

SCOPE_ARGUMENTS: Mapping[str, tuple[str, ...]] = {
    "accounts": ("account",),
    "folders": ("folder", "source_folder", "target_folder", "mailbox"),
    "channels": ("channel", "channel_id", "room", "room_id"),
    "calendars": ("calendar",),
    "services": ("service",),
    "environments": ("environment",),
    "recipient_domains": (),
}
"""Scope kind -> the arguments it constrains (`recipient_domains` constrains every destination)."""


PLACE_ARGUMENTS = SCOPE_ARGUMENTS["channels"]
"""Arguments that name a chat place a call reaches (a channel, a room): a `channels` scope narrows them."""
PERSON_ARGUMENTS = ("user", "user_id", "users", "user_ids", "member", "members", "member_id", "invitee_id")
"""Arguments that name a person by chat handle or id: no scope kind narrows them."""


def unnarrowed_targets(grants: Sequence[ToolGrant], args: Mapping[str, Any]) -> list[str]:
    """The call's arguments that name a chat place or person (top level), as `name 'value'`, which the
    egress allowlist cannot check (it knows addresses, domains and URLs) and which `grants` (those the call
    fits) do not narrow: a place counts as checked only when every one of them has a `channels` scope,
    which `out_of_scope` has held the call to; a person never does."""
    found = []
    for name in (*PLACE_ARGUMENTS, *PERSON_ARGUMENTS):
        value = args.get(name)
        if value is None or value == "" or value == []:
            continue
        if name in PLACE_ARGUMENTS and grants and all("channels" in grant.scopes for grant in grants):
            continue
        found.append(f"{name} '{str(value)[:100]}'")
    return found


def unknown_scopes(grant: ToolGrant) -> list[str]:
    return sorted(kind for kind in grant.scopes if kind not in SCOPE_ARGUMENTS)


def out_of_scope(grant: ToolGrant, args: Mapping[str, Any]) -> str | None:
    """Why the call falls outside the grant's account and scopes, or None when it is inside."""
    unknown = unknown_scopes(grant)
    if unknown:
        return f"the grant for '{grant.tool}' has unknown scope kinds: {', '.join(unknown)}"
    wanted_account = grant.account
    if "account" in args and wanted_account is None:
        # Deny by default: a grant that names no account must not open every account the owner has.
        return f"the grant for '{grant.tool}' names no account, so the agent may not use '{args['account']}'"
    if wanted_account is not None and "account" in args and str(args["account"]) != wanted_account:
        return f"the grant allows account '{wanted_account}', not '{args['account']}'"
    for kind, allowed in grant.scopes.items():
        if kind == "recipient_domains":
            for destination in destinations(args):
                domain = destination.domain
                if domain is None or not any(_domain_in(domain, pattern) for pattern in allowed):
                    return f"'{destination}' is outside the granted recipient domains ({', '.join(allowed)})"
            continue
        for name in SCOPE_ARGUMENTS[kind]:
            if name not in args:
                continue
            if args[name] is None or args[name] == []:
                # The tool has the argument and the call leaves it empty, which tools read as "all of
                # them" (free/busy over every calendar): a narrowed grant cannot allow that.
                return (
                    f"{name} is left empty, which means every one; the grant allows only {', '.join(allowed)}"
                )
            values = args[name] if isinstance(args[name], list | tuple) else [args[name]]
            for value in values:
                if not any(fnmatchcase(str(value), pattern) for pattern in allowed):
                    return f"{name} '{value}' is outside the granted {kind} ({', '.join(allowed)})"
    return None


def _domain_in(domain: str, pattern: str) -> bool:
    base = pattern.lower().removeprefix("*.")
    return domain == base or domain.endswith("." + base)
