"""What a definition names elsewhere: a configured model, registered tools; and whose agent it is."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pytest

from meshclaw.agents import service
from meshclaw.agents.spec import AgentSpec
from meshclaw.context import AppContext
from meshclaw.errors import InvalidInputError, PermissionDeniedError
from meshclaw.identity import store as identity_store
from meshclaw.identity.principal import Role
from meshclaw.providers.registry import ProviderConfig, ProviderKind, Routes
from tests.conftest import People

OPENAI = ProviderConfig(
    id=1, name="openai", kind=ProviderKind.OPENAI, base_url="https://api.openai.com/v1", api_key_env=None,
    models=("gpt-4o-mini",), enabled=True,
)  # fmt: skip


def with_model(name: str, provider: str | None = None) -> AgentSpec:
    return AgentSpec.model_validate({"name": "a", "model": {"name": name, "provider": provider}})


def test_a_model_no_provider_serves_says_how_to_add_one() -> None:
    with pytest.raises(InvalidInputError) as caught:
        service.check_model(with_model("llama3"), Routes([OPENAI]))
    assert caught.value.field == "model.name"
    assert (
        "no enabled provider serves model 'llama3'; configured models: gpt-4o-mini; pick one"
        in caught.value.message
    )
    assert "meshclaw providers add NAME --kind openai" in caught.value.message
    with pytest.raises(InvalidInputError, match="no provider is configured yet"):
        service.check_model(with_model("llama3"), Routes([]))


def test_model_checks_pass_for_a_served_model_or_none() -> None:
    service.check_model(with_model("gpt-4o-mini"), Routes([OPENAI]))
    service.check_model(with_model("gpt-4o-mini", "openai"), Routes([OPENAI]))
    service.check_model(AgentSpec(name="a"), Routes([]))


def test_a_provider_that_does_not_serve_the_model() -> None:
    with pytest.raises(InvalidInputError) as caught:
        service.check_model(with_model("gpt-4o-mini", "anthropic"), Routes([OPENAI]))
    assert caught.value.field == "model.provider"


@dataclass(frozen=True)
class Tool:
    name: str


class Catalog:
    def __init__(self, names: Sequence[str]) -> None:
        self.tools = [Tool(name) for name in names]

    def matching(self, patterns: Iterable[str]) -> Sequence[Tool]:
        wanted = list(patterns)
        return [
            t
            for t in self.tools
            if any(t.name == p or (p.endswith("*") and t.name.startswith(p[:-1])) for p in wanted)
        ]


def test_tool_grants_are_checked_against_a_catalog_when_there_is_one() -> None:
    spec = AgentSpec.model_validate(
        {
            "name": "a",
            "tools": [{"tool": "email_*"}, {"tool": "gh_list_issues"}, {"tool": "chat_send_message"}],
            "mcp_servers": [{"name": "gh", "command": ["gh-mcp"]}],
        }
    )
    service.check_tools(spec, None)  # the hook unset: syntax only
    with pytest.raises(InvalidInputError) as caught:
        service.check_tools(spec, Catalog(["email_send_message"]))
    assert caught.value.field == "tools[2].tool"
    assert (
        "no registered tool matches 'chat_send_message' (registered: email_send_message)"
        in caught.value.message
    )
    service.check_tools(spec, Catalog(["email_send_message", "chat_send_message"]))


def test_owner_is_the_caller_unless_an_admin_names_someone(
    context: AppContext, org_id: int, people: People
) -> None:
    member, other, admin = people.add(), people.add(), people.add(Role.ADMIN)
    with context.db.session() as session:
        as_member = identity_store.principal_for(session, identity_store.get_user(session, org_id, member.id))
        as_admin = identity_store.principal_for(session, identity_store.get_user(session, org_id, admin.id))
        assert service.resolve_owner(session, org_id, as_member, None).id == member.id
        assert service.resolve_owner(session, org_id, as_member, member.email).id == member.id
        with pytest.raises(PermissionDeniedError, match="only admins create agents for someone else"):
            service.resolve_owner(session, org_id, as_member, other.email)
        assert service.resolve_owner(session, org_id, as_admin, other.email).id == other.id
        assert service.resolve_owner(session, org_id, as_admin, str(other.id)).id == other.id
        # The operator's shell with one admin in the organization: that admin.
        assert service.resolve_owner(session, org_id, None, None).id == admin.id
    people.add(Role.ADMIN)
    with context.db.session() as session, pytest.raises(InvalidInputError, match="--owner EMAIL"):
        service.resolve_owner(session, org_id, None, None)
