"""Vault table: secrets encrypted at rest with envelope encryption (see `meshclaw.vault`).

Only ciphertext, the wrapped data key and metadata are stored; the key-encryption key (KEK) never is.
`owner` is "org" or "user:<id>" so one unique key covers both kinds of owner (NULLs would not collide).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meshclaw.db.base import Base, UTCDateTime


class VaultSecret(Base):
    """One secret (a connector credential): its value sealed with its own data key."""

    __tablename__ = "vault_secrets"
    __table_args__ = (UniqueConstraint("org_id", "owner", "name", name="uq_vault_secrets_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(40))
    owner_user_id: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(String(100))
    """What the secret is for (a connector name or account label); scoping to accounts comes later."""
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    wrap_nonce: Mapped[bytes] = mapped_column(LargeBinary)
    kek_id: Mapped[str] = mapped_column(String(32))
    """Fingerprint of the KEK that wrapped `wrapped_key`; rotation moves rows from one id to another."""
    version: Mapped[int] = mapped_column(Integer)
    """1 on creation, +1 each time the value is replaced."""
    created_by_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
