"""Saving definitions: v1 on create, nothing on an unchanged re-apply, v2 on a change with v1 intact."""

from __future__ import annotations

from meshclaw.agents import store
from meshclaw.agents.spec import AgentSpec
from meshclaw.context import AppContext
from meshclaw.db.models import AgentVersion
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS


@BOTH_BACKENDS
def test_versions_are_created_only_on_change_and_never_rewritten(
    context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    now = context.clock.now()
    first = AgentSpec.model_validate({"name": "triage", "purpose": "sort mail"})
    with context.db.session() as session:
        applied = store.save_spec(
            session, org_id=org_id, owner_user_id=owner.id, spec=first, created_by_user_id=owner.id, now=now
        )
    assert (applied.outcome, applied.version.number, applied.agent.current_version) == ("created", 1, 1)
    agent_id = applied.agent.id

    # The same definition, with a default spelled out: same canonical form, nothing written.
    same = AgentSpec.model_validate({"name": "triage", "purpose": "sort mail", "memory": True})
    with context.db.session() as session:
        again = store.save_spec(
            session, org_id=org_id, owner_user_id=owner.id, spec=same, created_by_user_id=owner.id, now=now
        )
        assert again.outcome == "unchanged" and again.version.number == 1
        assert len(store.list_versions(session, agent_id)) == 1

    changed = AgentSpec.model_validate({"name": "triage", "purpose": "sort and label mail"})
    with context.db.session() as session:
        second = store.save_spec(
            session, org_id=org_id, owner_user_id=owner.id, spec=changed, created_by_user_id=None, now=now
        )
    assert (second.outcome, second.version.number, second.agent.current_version) == ("updated", 2, 2)
    assert second.agent.id == agent_id

    with context.db.session() as session:
        v1 = store.get_version(session, agent_id, 1)
        assert v1.spec() == first and v1.spec_digest == store.spec_digest(first)
        assert v1.created_by_user_id == owner.id
        assert [v.number for v in store.list_versions(session, agent_id)] == [2, 1]
        assert session.get(AgentVersion, v1.id) is not None
        (listed,) = store.list_agents(session, org_id, owner_user_ids=[owner.id])
        assert (listed.name, listed.current_version, listed.owner_email) == ("triage", 2, owner.email)


def test_names_are_unique_per_owner_not_per_organization(
    context: AppContext, org_id: int, people: People
) -> None:
    alice, bob = people.add(), people.add()
    spec = AgentSpec(name="digest")
    with context.db.session() as session:
        for person in (alice, bob):
            store.save_spec(
                session, org_id=org_id, owner_user_id=person.id, spec=spec, created_by_user_id=None,
                now=context.clock.now(),
            )  # fmt: skip
        assert len(store.list_agents(session, org_id)) == 2
        assert store.agent_by_name(session, org_id, bob.id, "digest") is not None


def test_disable_and_enable(context: AppContext, org_id: int, people: People) -> None:
    owner = people.add()
    with context.db.session() as session:
        applied = store.save_spec(
            session, org_id=org_id, owner_user_id=owner.id, spec=AgentSpec(name="a"), created_by_user_id=None,
            now=context.clock.now(),
        )  # fmt: skip
        assert applied.agent.enabled is True
        assert (
            store.set_enabled(session, applied.agent.id, enabled=False, now=context.clock.now()).enabled
            is False
        )
    with context.db.session() as session:
        assert store.get_agent(session, org_id, applied.agent.id).enabled is False
