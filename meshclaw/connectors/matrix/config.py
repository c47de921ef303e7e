"""One Matrix account: the homeserver, the bot's user id and its credentials."""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator

from meshclaw.connectors.contract import AccountConfig

MATRIX_USER_ID = re.compile(r"^@[^:\s]+:[^\s]+$")


class MatrixConfig(AccountConfig):
    homeserver: str = Field(description="The client-server API's base URL, e.g. https://matrix.example.org.")
    user_id: str = Field(description="The bot's full Matrix id, e.g. @meshclaw:example.org.")
    access_token: SecretStr | None = Field(
        default=None, description="An access token of the bot (preferred: no login per call)."
    )
    password: SecretStr | None = Field(
        default=None, description="The bot's password, when no token is given."
    )
    device_id: str = Field(
        default="MESHCLAW",
        description="The device password logins reuse, so the server's duplicate suppression of a repeated "
        "send (keyed by device and transaction id) holds across logins.",
    )
    owner_matrix_user: str | None = Field(
        default=None, description="The owner's Matrix id: approvals are posted in their DM with the bot."
    )
    join_invites: Literal["owner", "anyone", "none"] = Field(
        default="owner",
        description="Whose room invites the sync loop accepts: only the owner's (default), anyone's, or none.",
    )
    timeout_s: float = Field(default=15, gt=0, le=300, description="Seconds any one request may take.")
    max_rate_limit_wait_s: float = Field(
        default=10,
        ge=0,
        le=120,
        description="How long a call may wait in total for the server's retry_after when rate limited.",
    )

    @field_validator("homeserver")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("homeserver must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("user_id", "owner_matrix_user")
    @classmethod
    def _matrix_id(cls, value: str | None) -> str | None:
        if value is not None and not MATRIX_USER_ID.match(value):
            raise ValueError(f"'{value}' is not a Matrix user id like @name:example.org")
        return value

    @model_validator(mode="after")
    def _one_credential(self) -> Self:
        if (self.access_token is None) == (self.password is None):
            raise ValueError("give exactly one of access_token and password")
        return self
