"""`vault:NAME` values in an agent's MCP server environment, resolved from the vault for one run segment.

The owner's secret NAME is used, else the organization's. Values are decrypted in the process that runs
the segment and handed to the runtime in `RunRequest.mcp_env` (kept out of repr); they are never written
to the run's records, its checkpoints or the audit log, and the vault registers each with the log filter
as it decrypts it.
"""

from __future__ import annotations

from dataclasses import replace

from meshclaw.agents.runtime.contract import RunRequest
from meshclaw.context import AppContext
from meshclaw.db.models import Agent
from meshclaw.errors import MeshclawError, NotFoundError
from meshclaw.vault.store import Vault

PREFIX = "vault:"


class MissingSecret(MeshclawError):
    """An MCP server names a vault secret the owner and the organization do not have."""


def references(request: RunRequest) -> bool:
    return any(
        value.startswith(PREFIX) for server in request.spec.mcp_servers for value in server.env.values()
    )


def resolve(context: AppContext, request: RunRequest) -> RunRequest:
    """The request with every `vault:NAME` of its MCP servers resolved (a request without any, as it is)."""
    if not references(request):
        return request
    vault = Vault.for_data_dir(context.settings.data_dir)
    resolved: dict[str, dict[str, str]] = {}
    with context.db.session() as session:
        agent = session.get(Agent, request.agent_id)
        org_id = agent.org_id if agent is not None else 0
        for server in request.spec.mcp_servers:
            for variable, value in server.env.items():
                if not value.startswith(PREFIX):
                    continue
                name = value.removeprefix(PREFIX)
                secret = None
                for owner in (request.owner_user_id, None):
                    try:
                        secret = vault.get(session, org_id=org_id, owner_user_id=owner, name=name)
                        break
                    except NotFoundError:
                        continue
                if secret is None:
                    raise MissingSecret(
                        f"the MCP server '{server.name}' needs the vault secret '{name}' ({variable}), which "
                        f"neither the agent's owner nor the organization has: store it with "
                        f"`meshclaw vault set {name}` (or in the API's /api/v1/vault/secrets)"
                    )
                resolved.setdefault(server.name, {})[variable] = secret.reveal()
    return replace(request, mcp_env=resolved)
