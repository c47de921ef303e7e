"""The deployment's tool registry: the built-in tools and every connector's, bound to the accounts."""

from __future__ import annotations

from dataclasses import replace

from meshclaw.connectors.catalog import all_connectors
from meshclaw.connectors.contract import Account, AccountError, Accounts, ConfigT
from meshclaw.tools.registry import ToolRegistry, default_registry


def platform_registry(accounts: Accounts) -> ToolRegistry:
    registry = default_registry()
    for connector in all_connectors():
        for tool in connector.tools(accounts):
            if not tool.name.startswith(f"{connector.name}_"):
                raise ValueError(f"connector '{connector.name}' registers '{tool.name}' outside its domain")
            # Origin names the connector whatever the manifest said: the gate and the audit log tell a
            # connector's tools from the built-ins by it.
            registry.register(replace(tool, origin=connector.name))
    return registry


class NoAccounts:
    """For a registry that only lists tools (checking an agent's grants): no account opens."""

    async def get(self, connector: str, name: str, config: type[ConfigT]) -> Account[ConfigT]:
        raise AccountError("tools of this registry list what exists; they cannot act")


def catalog_registry() -> ToolRegistry:
    return platform_registry(NoAccounts())
