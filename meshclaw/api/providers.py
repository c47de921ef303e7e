"""/api/v1/providers: the model upstreams the gateway and agents call.

Admins add, change and remove providers; auditors may read them too (the configuration, including the
*name* of each key's environment variable, is no secret and is part of what an audit looks at); members
and managers are refused, they learn the routable models from the gateway's model list. Provider keys
are never accepted or returned: a provider names an environment variable of the server, and answers say
only whether that variable is set in the server's environment.

A change is applied to the running server's routing table at once (`LiveRoutes.reload`); other server
processes pick it up within 10 seconds. Every change is audited (`api.upstream_audit`) in its transaction.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.upstream_audit import record_provider_added, record_provider_change, record_provider_removed
from meshclaw.identity.authorize import Resource, authorize
from meshclaw.providers.live import LiveRoutes
from meshclaw.providers.registry import (
    ProviderConfig,
    add_provider,
    get_provider,
    list_providers,
    remove_provider,
    update_provider,
)

router = APIRouter(prefix="/providers", tags=["providers"])

_MODELS = "Model names this provider serves; a model routes to one enabled provider"


class ProviderOut(BaseModel):
    name: str
    kind: str = Field(description="openai, anthropic or openai-compatible")
    base_url: str
    api_key_env: str | None = Field(description="The environment variable holding the key (its name only)")
    api_key_set: bool = Field(
        description="Whether that variable is set (non-empty) in the environment of the process answering"
    )
    models: list[str] = Field(description=_MODELS)
    enabled: bool


class ProviderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=100, description="Lower-case letters, digits, '-' and '_'")
    kind: str = Field(max_length=30, description="openai, anthropic or openai-compatible")
    base_url: str = Field(max_length=500, description="e.g. https://api.openai.com/v1")
    api_key_env: str | None = Field(
        default=None, max_length=100, description="Name of the server's environment variable with the key"
    )
    models: list[str] = Field(max_length=500, description=_MODELS)


class ProviderPatch(BaseModel):
    """Only the fields sent are changed; `api_key_env: null` removes the variable (no key is sent)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool | None = None
    models: list[str] | None = Field(default=None, max_length=500, description=_MODELS)
    base_url: str | None = Field(default=None, max_length=500)
    api_key_env: str | None = Field(default=None, max_length=100)


def provider_out(provider: ProviderConfig) -> ProviderOut:
    return ProviderOut(
        name=provider.name,
        kind=provider.kind.value,
        base_url=provider.base_url,
        api_key_env=provider.api_key_env,
        # Only whether it is set: the value never leaves this function.
        api_key_set=bool(provider.api_key()),
        models=list(provider.models),
        enabled=provider.enabled,
    )


def reload_routes(request: Request) -> None:
    """Apply a change to this process's routing table now (other processes reload within 10 s)."""
    routes = request.app.state.provider_routes
    assert isinstance(routes, LiveRoutes)
    routes.reload()


@router.get("", response_model=list[ProviderOut])
def read_providers(principal: CurrentPrincipal, context: Context) -> list[ProviderOut]:
    """Every provider, by name (admins and auditors)."""
    authorize(principal, "read", Resource(kind="provider"))
    with context.db.session() as session:
        return [provider_out(provider) for provider in list_providers(session)]


@router.get("/{name}", response_model=ProviderOut)
def read_provider(name: str, principal: CurrentPrincipal, context: Context) -> ProviderOut:
    authorize(principal, "read", Resource(kind="provider"))
    with context.db.session() as session:
        return provider_out(get_provider(session, name))


@router.post("", response_model=ProviderOut, status_code=201)
def create_provider(
    body: ProviderCreate, request: Request, principal: CurrentPrincipal, context: Context
) -> ProviderOut:
    """Add a provider, enabled (admins). 409 if the name exists or a model is served by another one."""
    authorize(principal, "create", Resource(kind="provider"))
    with context.db.session() as session:
        provider = add_provider(
            session,
            name=body.name,
            kind=body.kind,
            base_url=body.base_url,
            api_key_env=body.api_key_env,
            models=body.models,
            now=context.clock.now(),
        )
        record_provider_added(context, session, principal, provider)
    reload_routes(request)
    return provider_out(provider)


@router.patch("/{name}", response_model=ProviderOut)
def change_provider(
    name: str, body: ProviderPatch, request: Request, principal: CurrentPrincipal, context: Context
) -> ProviderOut:
    """Enable or disable a provider, or change its models, base URL or key variable (admins)."""
    authorize(principal, "update", Resource(kind="provider"))
    api_key_env = body.api_key_env
    if "api_key_env" in body.model_fields_set and api_key_env is None:
        api_key_env = ""  # the registry's way to say "remove"
    with context.db.session() as session:
        before = get_provider(session, name)
        provider = update_provider(
            session,
            name,
            enabled=body.enabled,
            models=body.models,
            base_url=body.base_url,
            api_key_env=api_key_env,
        )
        record_provider_change(context, session, principal, before=before, after=provider)
    reload_routes(request)
    return provider_out(provider)


@router.delete("/{name}", status_code=204)
def delete_provider(name: str, request: Request, principal: CurrentPrincipal, context: Context) -> Response:
    """Remove a provider (admins); its models stop routing at once on this server."""
    authorize(principal, "delete", Resource(kind="provider"))
    with context.db.session() as session:
        remove_provider(session, name)
        record_provider_removed(context, session, principal, name)
    reload_routes(request)
    return Response(status_code=204)
