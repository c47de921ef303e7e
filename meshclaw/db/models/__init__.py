"""Every table, one module per owning domain. Importing this package registers them all on
`Base.metadata`, which is what Alembic compares against."""

from __future__ import annotations

from meshclaw.db.models.identity import (
    ApiKey,
    LoginFailure,
    Organization,
    SetupToken,
    Team,
    User,
    WebSession,
)

__all__ = ["ApiKey", "LoginFailure", "Organization", "SetupToken", "Team", "User", "WebSession"]
