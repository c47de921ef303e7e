"""The audit records of changes to model providers and to the price table, for the API, the pages and the CLI.

Redirecting a provider (its base URL or key variable) sends everyone's prompts and the upstream key to
another host, and a price decides everyone's costs, so each change is recorded like a key or role change:
in the caller's transaction, after the registry accepted it, so a refused change records nothing.

A provider holds no key to redact: the registry refuses credentials in the base URL and key-shaped
variable names, so the record carries the variable's *name*, as the API and the page show it.
"""

from __future__ import annotations

from datetime import UTC

from sqlalchemy.orm import Session

from meshclaw.api.audit_trail import changed_fields, record_admin_action
from meshclaw.context import AppContext
from meshclaw.identity.principal import Principal
from meshclaw.metering.prices import Price, replaced_price_id
from meshclaw.providers.registry import ProviderConfig


def _settings(provider: ProviderConfig) -> dict[str, object]:
    """What a provider change may alter, as the API shows it (the kind and name are fixed at creation)."""
    return {
        "base_url": provider.base_url,
        "models": list(provider.models),
        "api_key_env": provider.api_key_env,
        "enabled": provider.enabled,
    }


def record_provider_added(
    context: AppContext, session: Session, principal: Principal | None, provider: ProviderConfig
) -> None:
    record_admin_action(
        context,
        session,
        principal,
        kind="admin.provider_added",
        target=f"provider:{provider.name}",
        arguments={"kind": provider.kind.value, **_settings(provider)},
    )


def record_provider_change(
    context: AppContext,
    session: Session,
    principal: Principal | None,
    *,
    before: ProviderConfig,
    after: ProviderConfig,
) -> None:
    """Audit the fields that differ, each as {"from": old, "to": new}; nothing when none does."""
    old, new = _settings(before), _settings(after)
    changed = changed_fields(old, new)
    if changed:
        record_admin_action(
            context,
            session,
            principal,
            kind="admin.provider_changed",
            target=f"provider:{after.name}",
            arguments=changed,
        )


def record_provider_removed(
    context: AppContext, session: Session, principal: Principal | None, name: str
) -> None:
    record_admin_action(context, session, principal, kind="admin.provider_removed", target=f"provider:{name}")


def record_price_set(
    context: AppContext, session: Session, principal: Principal | None, price: Price
) -> None:
    """Audit a new price version with the version it takes over from, so a cost can be traced to who
    set its price."""
    record_admin_action(
        context,
        session,
        principal,
        kind="admin.price_set",
        target=f"price:{price.model}",
        arguments={
            "price_id": price.id,
            "input_uncached": price.input_uncached,
            "cache_read": price.cache_read,
            "cache_write": price.cache_write,
            "output": price.output,
            "reasoning": price.reasoning,
            "effective_from": price.effective_from.astimezone(UTC).isoformat(),
            "replaces_price_id": replaced_price_id(session, price),
        },
    )
