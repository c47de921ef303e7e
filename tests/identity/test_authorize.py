"""The permission table, checked directly: every role x resource kind x action, and key scopes."""

from __future__ import annotations

import pytest

from meshclaw.identity.authorize import ACTIONS, PERMISSIONS, RESOURCE_KINDS, Resource, is_allowed, reach
from meshclaw.identity.principal import KeyScope, Principal, Role

ME, OTHER, REPORT = 1, 2, 3
MY_TEAM, SUB_TEAM, OTHER_TEAM = 10, 11, 20


def principal(role: Role, *, scopes: frozenset[KeyScope] | None = None) -> Principal:
    managed = frozenset({MY_TEAM, SUB_TEAM}) if role == Role.MANAGER else frozenset()
    return Principal(
        user_id=ME,
        org_id=1,
        role=role,
        email="me@x",
        team_id=MY_TEAM,
        managed_team_ids=managed,
        key_scopes=scopes,
    )


def test_every_role_has_a_row_for_every_kind_or_denies_it() -> None:
    for role in Role:
        assert set(PERMISSIONS[role]) <= set(RESOURCE_KINDS)


@pytest.mark.parametrize("kind", RESOURCE_KINDS)
@pytest.mark.parametrize("action", ACTIONS)
def test_admin_may_do_everything(kind: str, action: str) -> None:
    assert is_allowed(principal(Role.ADMIN), action, Resource(kind=kind, id=5, owner_user_id=OTHER))  # type: ignore[arg-type]


@pytest.mark.parametrize("action", ["create", "update", "manage", "delete"])
@pytest.mark.parametrize("kind", ["organization", "team", "user"])
def test_auditor_changes_nothing_of_others(kind: str, action: str) -> None:
    assert not is_allowed(principal(Role.AUDITOR), action, Resource(kind=kind, id=5, owner_user_id=OTHER))  # type: ignore[arg-type]


def test_manager_sees_people_in_managed_teams_only() -> None:
    manager = principal(Role.MANAGER)
    assert is_allowed(
        manager, "read", Resource(kind="user", id=REPORT, owner_user_id=REPORT, team_id=SUB_TEAM)
    )
    assert not is_allowed(
        manager, "read", Resource(kind="user", id=OTHER, owner_user_id=OTHER, team_id=OTHER_TEAM)
    )
    assert not is_allowed(
        manager, "manage", Resource(kind="user", id=REPORT, owner_user_id=REPORT, team_id=SUB_TEAM)
    )


def test_member_sees_and_edits_only_themselves() -> None:
    member = principal(Role.MEMBER)
    assert is_allowed(member, "read", Resource(kind="user", id=ME, owner_user_id=ME, team_id=MY_TEAM))
    assert is_allowed(member, "update", Resource(kind="user", id=ME, owner_user_id=ME, team_id=MY_TEAM))
    assert not is_allowed(member, "manage", Resource(kind="user", id=ME, owner_user_id=ME, team_id=MY_TEAM))
    assert not is_allowed(
        member, "read", Resource(kind="user", id=OTHER, owner_user_id=OTHER, team_id=MY_TEAM)
    )


def test_read_only_key_cannot_write_even_for_an_admin() -> None:
    admin_ro = principal(Role.ADMIN, scopes=frozenset({KeyScope.API_READ}))
    assert is_allowed(admin_ro, "read", Resource(kind="team"))
    assert not is_allowed(admin_ro, "create", Resource(kind="team"))
    assert reach(admin_ro, "create", "user") is None


def test_gateway_only_key_cannot_use_the_api() -> None:
    gateway_only = principal(Role.ADMIN, scopes=frozenset({KeyScope.GATEWAY}))
    assert not is_allowed(gateway_only, "read", Resource(kind="organization"))


def test_usage_reach_per_role() -> None:
    assert reach(principal(Role.MEMBER), "read", "usage") == "own"
    assert reach(principal(Role.MANAGER), "read", "usage") == "team"
    assert reach(principal(Role.AUDITOR), "read", "usage") == "all"
    assert reach(principal(Role.ADMIN), "read", "usage") == "all"
    for role in (Role.MEMBER, Role.MANAGER, Role.AUDITOR):
        for action in ("create", "update", "manage", "delete"):
            assert reach(principal(role), action, "usage") is None  # type: ignore[arg-type]


def test_manager_reads_usage_of_managed_teams_only() -> None:
    manager = principal(Role.MANAGER)
    assert is_allowed(manager, "read", Resource(kind="usage", owner_user_id=REPORT, team_id=SUB_TEAM))
    assert is_allowed(manager, "read", Resource(kind="usage", owner_user_id=ME, team_id=OTHER_TEAM))
    assert not is_allowed(manager, "read", Resource(kind="usage", owner_user_id=OTHER, team_id=OTHER_TEAM))
    member = principal(Role.MEMBER)
    assert is_allowed(member, "read", Resource(kind="usage", owner_user_id=ME, team_id=MY_TEAM))
    assert not is_allowed(member, "read", Resource(kind="usage", owner_user_id=OTHER, team_id=MY_TEAM))


def test_everyone_reads_prices_and_only_admins_add_them() -> None:
    for role in Role:
        assert is_allowed(principal(role), "read", Resource(kind="price"))
        assert is_allowed(principal(role), "create", Resource(kind="price")) == (role == Role.ADMIN)
    admin_ro = principal(Role.ADMIN, scopes=frozenset({KeyScope.API_READ}))
    assert not is_allowed(admin_ro, "create", Resource(kind="price"))


def test_admins_configure_providers_and_auditors_only_read_them() -> None:
    for role in Role:
        may_read = role in (Role.ADMIN, Role.AUDITOR)
        assert is_allowed(principal(role), "read", Resource(kind="provider")) == may_read
        for action in ("create", "update", "manage", "delete"):
            allowed = is_allowed(principal(role), action, Resource(kind="provider"))  # type: ignore[arg-type]
            assert allowed == (role == Role.ADMIN)
    admin_ro = principal(Role.ADMIN, scopes=frozenset({KeyScope.API_READ}))
    assert is_allowed(admin_ro, "read", Resource(kind="provider"))
    assert not is_allowed(admin_ro, "update", Resource(kind="provider"))


def test_budgets_are_read_by_whom_they_apply_to_and_set_by_admins_only() -> None:
    assert reach(principal(Role.MEMBER), "read", "budget") == "own"
    assert reach(principal(Role.MANAGER), "read", "budget") == "team"
    assert reach(principal(Role.AUDITOR), "read", "budget") == "all"
    for role in Role:
        for action in ("create", "update", "manage", "delete"):
            assert is_allowed(principal(role), action, Resource(kind="budget")) == (role == Role.ADMIN)  # type: ignore[arg-type]
    manager = principal(Role.MANAGER)
    assert is_allowed(manager, "read", Resource(kind="budget", owner_user_id=REPORT, team_id=SUB_TEAM))
    assert not is_allowed(manager, "read", Resource(kind="budget", owner_user_id=OTHER, team_id=OTHER_TEAM))
    member = principal(Role.MEMBER)
    assert is_allowed(member, "read", Resource(kind="budget", owner_user_id=ME, team_id=MY_TEAM))
    assert not is_allowed(member, "read", Resource(kind="budget", owner_user_id=OTHER, team_id=MY_TEAM))


def test_clarity_flags_are_seen_by_their_subject_auditors_and_admins_and_reviewed_by_the_last_two() -> None:
    own = Resource(kind="clarity_flag", owner_user_id=ME, team_id=MY_TEAM)
    report = Resource(kind="clarity_flag", owner_user_id=REPORT, team_id=SUB_TEAM)
    for role in Role:
        assert is_allowed(principal(role), "read", own)
        assert is_allowed(principal(role), "read", report) == (role in (Role.ADMIN, Role.AUDITOR))
        assert is_allowed(principal(role), "update", report) == (role in (Role.ADMIN, Role.AUDITOR))
        assert is_allowed(principal(role), "manage", Resource(kind="clarity_settings")) == (
            role == Role.ADMIN
        )
        assert is_allowed(principal(role), "read", Resource(kind="clarity_settings"))


def test_clarity_team_aggregates_belong_to_each_member_of_the_team() -> None:
    member, manager = principal(Role.MEMBER), principal(Role.MANAGER)
    mine = Resource(kind="clarity_team", team_id=MY_TEAM, owner_user_id=ME)  # as clarity.access builds it
    other = Resource(kind="clarity_team", team_id=OTHER_TEAM)
    assert is_allowed(member, "read", mine) and not is_allowed(member, "read", other)
    assert is_allowed(manager, "read", Resource(kind="clarity_team", team_id=SUB_TEAM))
    assert not is_allowed(manager, "read", other)
    assert reach(member, "read", "clarity") == "own" and reach(manager, "read", "clarity") == "team"
