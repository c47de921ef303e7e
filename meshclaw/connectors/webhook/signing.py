"""HMAC-SHA256 signatures of webhook bodies, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from meshclaw.connectors.webhook.config import WebhookConfig
from meshclaw.db.row_ids import is_digits

GITHUB_HEADER = "x-hub-signature-256"
TIMESTAMP_HEADER = "x-meshclaw-timestamp"
SIGNATURE_HEADER = "x-meshclaw-signature"


def _mac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_timestamped(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers of an outbound request (the `timestamped` scheme)."""
    signature = _mac(secret, str(timestamp).encode() + b"." + body)
    return {"X-MeshClaw-Timestamp": str(timestamp), "X-MeshClaw-Signature": f"v1={signature}"}


def verify(config: WebhookConfig, headers: Mapping[str, str], body: bytes, now: datetime) -> str | None:
    """None when the request is signed with the account's secret; otherwise why not (for the log and the
    401, never containing the expected signature)."""
    secret = config.signing_secret.get_secret_value()
    if config.scheme == "github":
        given = headers.get(GITHUB_HEADER, "")
        if not given.startswith("sha256="):
            return f"missing or malformed {GITHUB_HEADER} header (expected sha256=<hex>)"
        expected = "sha256=" + _mac(secret, body)
        return None if hmac.compare_digest(given.encode(), expected.encode()) else "signature does not match"
    stamp, given = headers.get(TIMESTAMP_HEADER, ""), headers.get(SIGNATURE_HEADER, "")
    if not is_digits(stamp) or not given.startswith("v1="):
        return f"missing or malformed {TIMESTAMP_HEADER} / {SIGNATURE_HEADER} headers"
    if abs(now.timestamp() - int(stamp)) > config.tolerance_seconds:
        return (
            f"timestamp outside {config.tolerance_seconds} s of the server's clock (replayed or clock skew)"
        )
    expected = "v1=" + _mac(secret, stamp.encode() + b"." + body)
    return None if hmac.compare_digest(given.encode(), expected.encode()) else "signature does not match"
