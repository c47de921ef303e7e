"""Who is acting: a person through a web session, or a person (later an agent) through an API key."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    MEMBER = "member"
    MANAGER = "manager"
    ADMIN = "admin"
    AUDITOR = "auditor"


class KeyScope(StrEnum):
    """What an API key may be used for, on top of what its owner's role allows."""

    API_READ = "api:read"
    """GET requests on /api/v1."""
    API_WRITE = "api:write"
    """Changes through /api/v1."""
    GATEWAY = "gateway"
    """Model calls through the /v1 OpenAI- and Anthropic-compatible gateway."""
    INGEST = "ingest"
    """OTLP telemetry and usage imports."""


ALL_KEY_SCOPES: tuple[KeyScope, ...] = tuple(KeyScope)


@dataclass(frozen=True, kw_only=True)
class Principal:
    """The authenticated actor for one request."""

    user_id: int
    """The person acting, or on whose behalf an agent acts."""
    org_id: int
    role: Role
    email: str
    team_id: int | None = None
    managed_team_ids: frozenset[int] = field(default_factory=frozenset)
    """For managers: their team and every team below it. Empty for other roles."""
    key_id: int | None = None
    """Set when the request authenticated with an API key."""
    key_scopes: frozenset[KeyScope] | None = None
    """None for a web session (the role alone decides); the key's scopes otherwise."""
