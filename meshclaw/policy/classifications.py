"""Admins' effect classes for MCP tools. An MCP tool nobody classified counts as `destructive` (every call
needs a person); an admin who has looked at a server's tool gives it its real class.

A classification belongs to one server as it is configured, not to a name: its key is the SHA-256 of the
server's command and arguments (stdio) or URL (HTTP) and its environment, so an agent that renames another
program `github` does not inherit what an admin decided about the real one. Agents that run the identical
server share the classification.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.agents.spec import AgentSpec, McpServer
from meshclaw.db.models.policy import ToolClassification
from meshclaw.errors import InvalidInputError, NotFoundError
from meshclaw.tools.effects import EffectClass


def server_key(server: McpServer) -> str:
    identity = {
        "command": list(server.command or ()),
        "url": server.url,
        "env": dict(sorted(server.env.items())),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def server_label(server: McpServer) -> str:
    """How people recognise the server: its command line or URL (environment values not shown)."""
    return " ".join(server.command) if server.command else str(server.url)


def effects_for(session: Session, org_id: int, spec: AgentSpec) -> dict[str, EffectClass]:
    """The classified tools of the agent's MCP servers, by the name the run exposes (`<server>_<tool>`)."""
    if not spec.mcp_servers:
        return {}
    by_key = {server_key(server): server.name for server in spec.mcp_servers}
    rows = session.scalars(
        select(ToolClassification).where(
            ToolClassification.org_id == org_id,
            ToolClassification.server_key.in_(list(by_key)),
            ToolClassification.removed_at.is_(None),
        )
    )
    return {f"{by_key[row.server_key]}_{row.tool}": EffectClass(row.effect) for row in rows}


def find_server(spec: AgentSpec, name: str) -> McpServer:
    for server in spec.mcp_servers:
        if server.name == name:
            return server
    names = ", ".join(server.name for server in spec.mcp_servers) or "none"
    raise NotFoundError(f"the agent has no MCP server named '{name}' (its servers: {names})")


def classify(
    session: Session,
    *,
    org_id: int,
    server: McpServer,
    tool: str,
    effect: str,
    note: str,
    by_user_id: int | None,
    now: datetime,
) -> ToolClassification:
    try:
        checked = EffectClass(effect)
    except ValueError:
        raise InvalidInputError(
            f"'{effect}' is not an effect class: use one of {', '.join(e.value for e in EffectClass)}",
            field="effect",
        ) from None
    if not tool or len(tool) > 200:
        raise InvalidInputError("give the tool's name as the MCP server lists it", field="tool")
    key = server_key(server)
    for row in active(session, org_id, {key: server}).get(key, []):
        if row.tool == tool:
            row.removed_at, row.removed_by_user_id = now, by_user_id  # the new class replaces it
    row = ToolClassification(org_id=org_id, server_key=key, server_label=server_label(server)[:500], tool=tool,
                             effect=checked.value, note=note[:500], created_by_user_id=by_user_id, created_at=now)  # fmt: skip
    session.add(row)
    session.flush()
    return row


def active(
    session: Session, org_id: int, servers: Mapping[str, McpServer]
) -> dict[str, list[ToolClassification]]:
    """Server key -> its tools' current classifications."""
    rows = session.scalars(
        select(ToolClassification)
        .where(
            ToolClassification.org_id == org_id,
            ToolClassification.server_key.in_(list(servers)),
            ToolClassification.removed_at.is_(None),
        )
        .order_by(ToolClassification.tool)
    )
    found: dict[str, list[ToolClassification]] = {}
    for row in rows:
        found.setdefault(row.server_key, []).append(row)
    return found
