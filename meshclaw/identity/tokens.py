"""Random credentials and their stored form.

API keys, session tokens and one-time links are 256-bit random values, so a plain SHA-256 is a safe and
fast way to store them (a slow KDF is for low-entropy passwords; a key check on every gateway request must
cost microseconds). Passwords use argon2id in `passwords.py`.
"""

from __future__ import annotations

import hashlib
import secrets


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """Return `(prefix, full_key)`. The key reads `mc_<prefix>_<secret>`; the prefix is safe to show."""
    prefix = secrets.token_hex(4)
    return prefix, f"mc_{prefix}_{secrets.token_urlsafe(32)}"


def key_prefix(full_key: str) -> str | None:
    parts = full_key.split("_", 2)
    if len(parts) != 3 or parts[0] != "mc" or not parts[1]:
        return None
    return parts[1]
