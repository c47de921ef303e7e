"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from meshclaw.errors import InvalidInputError

MIN_LENGTH = 12

_hasher = PasswordHasher()  # stateless and thread-safe: parameters only, no secrets


def check_strength(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInputError(f"password must be at least {MIN_LENGTH} characters long", field="password")
    if len(password) > 1024:
        raise InvalidInputError("password must be at most 1024 characters long", field="password")


def hash_password(password: str) -> str:
    check_strength(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        # Spend the same time as a real check so response timing does not reveal unknown accounts.
        _hasher.hash("timing-equaliser")
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
