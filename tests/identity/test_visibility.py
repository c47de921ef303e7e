"""identity.visibility: read scopes per role, and resolving people and teams named in filters."""

from __future__ import annotations

import pytest

from meshclaw.context import AppContext
from meshclaw.errors import BadRequestError, NotFoundError, PermissionDeniedError
from meshclaw.identity import store
from meshclaw.identity.principal import Principal, Role
from meshclaw.identity.visibility import ReadScope, person_in_reach, read_scope, team_in_reach
from tests.conftest import People


def test_read_scope_follows_the_permission_table(context: AppContext, people: People) -> None:
    eng = people.team("Engineering")
    platform = people.team("Platform", parent_id=eng)
    manager = people.add(Role.MANAGER, team_id=eng)
    member = people.add(Role.MEMBER, team_id=platform)
    auditor = people.add(Role.AUDITOR)
    with context.db.session() as session:

        def principal(person_id: int) -> Principal:
            return store.principal_for(session, store.get_user(session, people.org_id, person_id))

        assert read_scope(principal(manager.id), "usage") == ReadScope(
            everyone=False, user_id=manager.id, team_ids=frozenset({eng, platform})
        )
        assert read_scope(principal(member.id), "usage") == ReadScope(everyone=False, user_id=member.id)
        assert read_scope(principal(auditor.id), "usage").everyone


def test_the_operator_resolves_anyone_and_bad_references_are_400_or_404(
    context: AppContext, people: People
) -> None:
    sales = people.team("Sales")
    person = people.add(Role.MEMBER, team_id=sales, email="grace@example.org")
    with context.db.session() as session:
        org = people.org_id
        assert (
            person_in_reach(session, org, "grace@example.org", principal=None, kind="usage").id == person.id
        )
        assert person_in_reach(session, org, f" {person.id} ", principal=None, kind="usage").id == person.id
        assert team_in_reach(session, org, "Sales", principal=None, kind="usage").id == sales
        with pytest.raises(BadRequestError):
            person_in_reach(session, org, "grace", principal=None, kind="usage")
        with pytest.raises(NotFoundError):
            person_in_reach(session, org, "9" * 30, principal=None, kind="usage")
        with pytest.raises(NotFoundError):
            team_in_reach(session, org, "Marketing", principal=None, kind="usage")


def test_a_member_reaches_only_themself(context: AppContext, people: People) -> None:
    me = people.add(Role.MEMBER, email="me@example.org")
    other = people.add(Role.MEMBER, email="other@example.org")
    with context.db.session() as session:
        principal = store.principal_for(session, store.get_user(session, people.org_id, me.id))
        assert (
            person_in_reach(session, people.org_id, "me@example.org", principal=principal, kind="usage").id
            == me.id
        )
        for ref in ("other@example.org", str(other.id), "ghost@example.org"):
            with pytest.raises(PermissionDeniedError, match="your own usage"):
                person_in_reach(session, people.org_id, ref, principal=principal, kind="usage")
