"""`admin.agent_saved`: the audit record of a saved agent definition, written in the save's transaction.

A definition decides what its agent may reach, so the record says who saved which version of whose agent,
the SHA-256 of the whole definition (the version's `spec_digest`), and, for the fields that grant
something, what they were and what they are now (`{"tools": {"from": [...], "to": [...]}}`; every one of
them, from null, for a new agent). The other fields (instructions, limits, ...) are proven by the digest
against the stored version rather than copied, so a record stays small however long a prompt is.

Re-saving an unchanged definition writes no version and no record. The caller records only after the
store accepted the save, so a refused save (invalid, stale, a duplicate name) leaves none.

A definition holds no credential by design, but two fields could carry one typed in literally: an MCP
server's environment (meant for `vault:NAME` references) and its URL (user info). The record keeps the
references and drops the rest: a literal environment value becomes `[not recorded]`, a URL's password
`[redacted]`. The environment is recorded as a list of `{"variable", "vault"|"value"}`, not as the mapping,
because the audit log redacts values under secret-looking names (`GITHUB_TOKEN`), and the reference under
such a name is exactly what an auditor needs to read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.orm import Session

from meshclaw.agents.store import Applied
from meshclaw.api.audit_trail import record_admin_action
from meshclaw.audit.redact import REDACTED
from meshclaw.context import AppContext
from meshclaw.identity.principal import Principal

GRANT_FIELDS: Final = (
    "model",
    "tools",
    "mcp_servers",
    "skills",
    "memory",
    "triggers",
    "dreaming",
    "template",
    "settings",
    "tainted_answers",
)
"""The `AgentSpec` fields that widen or narrow what the agent may do: the model it sends data to; tool
grants with their accounts and scopes (recipient domains, folders: its egress); MCP servers (programs
started, URLs reached, environment handed over); skills; memory (the remember/recall tools); when it runs
by itself (triggers, nightly dreaming); a template's playbook and its settings, which name the accounts
and channels the playbook uses; and whether an answer written while reading outsiders' text is kept as
written (`tainted_answers`, a guard of the policy gate)."""

NOT_RECORDED = "[not recorded]"
_VAULT = "vault:"


def record_agent_saved(
    context: AppContext, session: Session, principal: Principal | None, applied: Applied
) -> None:
    """Audit a save the store accepted; nothing for `unchanged`. `principal` None: the operator's CLI."""
    if applied.outcome == "unchanged":
        return
    before = grants(applied.previous.spec_data) if applied.previous is not None else None
    after = grants(applied.version.spec_data)
    changes = {
        field: {"from": before.get(field) if before is not None else None, "to": after.get(field)}
        for field in GRANT_FIELDS
        if before is None or before.get(field) != after.get(field)
    }
    record_admin_action(
        context,
        session,
        principal,
        kind="admin.agent_saved",
        target=f"agent:{applied.agent.id}",
        arguments={
            "name": applied.agent.name,
            "owner_user_id": applied.agent.owner_user_id,
            "version": applied.version.number,
            "created": applied.outcome == "created",
            "spec_sha256": applied.version.spec_digest,
            "changes": changes,
        },
    )


def grants(spec_data: Mapping[str, Any]) -> dict[str, Any]:
    """The grant fields of a stored definition (its JSON), with only references kept where a credential
    could be (see the module docstring). A field an old version lacks is None."""
    found = {field: spec_data.get(field) for field in GRANT_FIELDS}
    servers = found["mcp_servers"]
    if isinstance(servers, list):
        found["mcp_servers"] = [_server(server) if isinstance(server, dict) else server for server in servers]
    return found


def _server(server: Mapping[str, Any]) -> dict[str, Any]:
    shown = dict(server)
    env = server.get("env")
    if isinstance(env, dict):
        shown["env"] = [_variable(str(name), value) for name, value in sorted(env.items())]
    if isinstance(server.get("url"), str):
        shown["url"] = _without_password(server["url"])
    return shown


def _variable(name: str, value: object) -> dict[str, str]:
    if isinstance(value, str) and value.startswith(_VAULT):
        return {"variable": name, "vault": value.removeprefix(_VAULT)}
    return {"variable": name, "value": NOT_RECORDED}


def _without_password(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{REDACTED}@{host}"))
