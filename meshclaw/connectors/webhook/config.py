"""A webhook account: the shared secret requests are signed with, and how."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from meshclaw.connectors.contract import AccountConfig

Scheme = Literal["github", "timestamped"]


class WebhookConfig(AccountConfig):
    signing_secret: SecretStr
    """Shared with the other side; stored in the vault (`vault:NAME`)."""
    scheme: Scheme = "timestamped"
    """`github`: `X-Hub-Signature-256: sha256=<HMAC of the body>` (GitHub, Gitea, many CI systems).
    `timestamped`: `X-MeshClaw-Timestamp` plus `X-MeshClaw-Signature: v1=<HMAC of "<timestamp>.<body>">`,
    refused outside `tolerance_seconds` of now, so a captured request cannot be replayed later. Outbound
    requests are always signed `timestamped`."""
    tolerance_seconds: int = Field(default=300, ge=30, le=3600)
    max_body_bytes: int = Field(default=1_000_000, ge=1_000, le=20_000_000)
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    """For outbound requests: a receiver that hangs longer fails the call."""
