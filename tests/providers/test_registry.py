"""Providers are validated once, a model routes to exactly one enabled provider, and keys are never stored."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meshclaw.context import AppContext
from meshclaw.errors import ConflictError, InvalidInputError, NotFoundError
from meshclaw.providers.live import LiveRoutes
from meshclaw.providers.registry import (
    ProviderKind,
    Routes,
    add_provider,
    list_providers,
    remove_provider,
    set_enabled,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _add(context: AppContext, name: str, models: list[str], **overrides: str | None) -> None:
    values: dict[str, str | None] = {
        "kind": "openai-compatible",
        "base_url": "http://127.0.0.1:9/v1/",
        "api_key_env": "STUB_KEY",
    }
    values.update(overrides)
    with context.db.session() as session:
        add_provider(session, name=name, models=models, now=NOW, **values)  # type: ignore[arg-type]
        session.commit()


def test_added_providers_route_their_models(context: AppContext) -> None:
    _add(context, "local", ["llama-3", "qwen"])
    _add(context, "claude", ["claude-x"], kind="anthropic", base_url="https://api.anthropic.com")
    with context.db.session() as session:
        routes = Routes.load(session)
    local = routes.provider_for("qwen")
    assert local is not None
    assert (local.name, local.kind, local.base_url) == (
        "local",
        ProviderKind.OPENAI_COMPATIBLE,
        "http://127.0.0.1:9/v1",
    )
    assert routes.provider_for("claude-x") is not None
    assert routes.provider_for("gpt-unknown") is None
    assert [model for model, _ in routes.models()] == ["claude-x", "llama-3", "qwen"]


def test_the_key_is_read_from_the_named_variable_at_call_time(
    context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    _add(context, "local", ["m"])
    with context.db.session() as session:
        provider = list_providers(session)[0]
    assert provider.api_key() is None
    monkeypatch.setenv("STUB_KEY", "sk-upstream-secret")
    assert provider.api_key() == "sk-upstream-secret"


@pytest.mark.parametrize(
    ("overrides", "field", "hint"),
    [
        ({"kind": "gemini"}, "kind", "openai, anthropic, openai-compatible"),
        ({"base_url": "api.openai.com/v1"}, "base_url", "absolute http"),
        ({"base_url": "https://user:sk-secret@api.example.com/v1"}, "base_url", "--api-key-env"),
        ({"api_key_env": "sk-live-1234 abc"}, "api_key_env", "never the key itself"),
    ],
)
def test_bad_input_names_the_field_and_the_fix(
    context: AppContext, overrides: dict[str, str], field: str, hint: str
) -> None:
    with pytest.raises(InvalidInputError) as error:
        _add(context, "p", ["m"], **overrides)
    assert error.value.field == field
    assert hint in error.value.message
    assert "sk-secret" not in error.value.message
    with context.db.session() as session:
        assert list_providers(session) == []


@pytest.mark.parametrize(
    ("name", "models"), [("Bad Name", ["m"]), ("ok", []), ("ok", ["a b"]), ("ok", ["m", "m"])]
)
def test_bad_names_and_model_lists_are_refused(context: AppContext, name: str, models: list[str]) -> None:
    with pytest.raises(InvalidInputError):
        _add(context, name, models)


def test_a_model_routes_to_one_enabled_provider(context: AppContext) -> None:
    _add(context, "a", ["shared"])
    with pytest.raises(ConflictError, match="already served by provider 'a'"):
        _add(context, "b", ["other", "shared"])
    with pytest.raises(ConflictError, match="exists"):
        _add(context, "a", ["else"])
    with context.db.session() as session:
        set_enabled(session, "a", enabled=False)
        session.commit()
    _add(context, "b", ["shared"])
    with context.db.session() as session:
        provider = Routes.load(session).provider_for("shared")
        assert provider is not None and provider.name == "b"
        with pytest.raises(ConflictError):
            set_enabled(session, "a", enabled=True)


def test_removing_an_unknown_provider_says_how_to_list_them(context: AppContext) -> None:
    with context.db.session() as session, pytest.raises(NotFoundError, match="providers list"):
        remove_provider(session, "nope")


def test_live_routes_see_a_change_after_reload_or_the_refresh_interval(context: AppContext) -> None:
    live = LiveRoutes(context.db, refresh_s=3600)
    assert live.current().provider_for("m") is None
    _add(context, "p", ["m"])
    assert live.current().provider_for("m") is None  # within the refresh interval: the cached table
    assert live.reload().provider_for("m") is not None
    eager = LiveRoutes(context.db, refresh_s=0)
    with context.db.session() as session:
        remove_provider(session, "p")
        session.commit()
    assert eager.current().provider_for("m") is None
