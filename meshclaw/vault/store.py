"""`Vault`: secrets in the `vault_secrets` table, sealed with `crypto` under the KEK from `keys`.

Metadata functions (`list_secrets`, `get_secret`, `delete_secret`) need no key and return rows whose value
columns are ciphertext; only `Vault.read` decrypts, and it registers the plaintext with the log filter
before returning it wrapped in a `SecretValue`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meshclaw.db.models.vault import VaultSecret
from meshclaw.errors import ConflictError, InvalidInputError, MeshclawError, NotFoundError
from meshclaw.vault.crypto import RowBinding, Sealed, SealError, open_value, seal
from meshclaw.vault.keys import Kek, load_kek
from meshclaw.vault.logfilter import secret_log_filter
from meshclaw.vault.secret import SecretValue

ORG_OWNER = "org"
MAX_VALUE_BYTES = 64 * 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,199}$")


class VaultError(MeshclawError):
    """A stored secret cannot be decrypted. The message names the secret and the likely cause, never
    the value."""

    status = 500
    code = "vault_error"


def owner_of(user_id: int | None) -> str:
    return ORG_OWNER if user_id is None else f"user:{user_id}"


def binding(row: VaultSecret) -> RowBinding:
    return RowBinding(secret_id=row.id, org_id=row.org_id, owner=row.owner, name=row.name)


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidInputError(
            "a secret name is 1-200 characters: letters, digits and _ . : / @ -, starting with a letter "
            "or digit (e.g. 'slack-bot-token')",
            field="name",
        )
    return name


def _check_value(value: str) -> None:
    if not value:
        raise InvalidInputError("the secret value is empty", field="value")
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise InvalidInputError(f"the secret value is larger than {MAX_VALUE_BYTES} bytes", field="value")


def list_secrets(session: Session, org_id: int, *, owners: Sequence[str] | None = None) -> list[VaultSecret]:
    """Rows (metadata; never decrypted), optionally only those of `owners`."""
    query = select(VaultSecret).where(VaultSecret.org_id == org_id)
    if owners is not None:
        query = query.where(VaultSecret.owner.in_(owners))
    return list(session.scalars(query.order_by(VaultSecret.owner, VaultSecret.name)))


def get_secret(session: Session, org_id: int, secret_id: int) -> VaultSecret:
    row = session.get(VaultSecret, secret_id)
    if row is None or row.org_id != org_id:
        raise NotFoundError(f"secret {secret_id} does not exist")
    return row


def find_secret(session: Session, org_id: int, *, owner: str, name: str) -> VaultSecret | None:
    return session.scalars(
        select(VaultSecret).where(
            VaultSecret.org_id == org_id, VaultSecret.owner == owner, VaultSecret.name == name
        )
    ).first()


def delete_secret(session: Session, row: VaultSecret) -> None:
    session.delete(row)
    session.flush()


def _store(row: VaultSecret, sealed: Sealed) -> None:
    row.ciphertext, row.nonce = sealed.ciphertext, sealed.nonce
    row.wrapped_key, row.wrap_nonce, row.kek_id = sealed.wrapped_key, sealed.wrap_nonce, sealed.kek_id


@dataclass(kw_only=True)
class Vault:
    """Seals and opens values with one KEK. Cheap to build; build one per use from the data directory."""

    kek: Kek = field(repr=False)

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> Vault:
        kek, _ = load_kek(data_dir)
        return cls(kek=kek)

    def put(
        self,
        session: Session,
        *,
        org_id: int,
        owner_user_id: int | None,
        name: str,
        value: str,
        purpose: str | None = None,
        by_user_id: int | None = None,
        now: datetime,
    ) -> tuple[VaultSecret, bool]:
        """Create the secret, or replace its value (new data key, version + 1). True when created."""
        check_name(name)
        _check_value(value)
        owner = owner_of(owner_user_id)
        row = find_secret(session, org_id, owner=owner, name=name)
        created = row is None
        if row is None:
            # The id is part of the associated data, so the row exists (placeholders) before sealing.
            row = VaultSecret(
                org_id=org_id,
                owner=owner,
                owner_user_id=owner_user_id,
                name=name,
                purpose=purpose,
                ciphertext=b"",
                nonce=b"",
                wrapped_key=b"",
                wrap_nonce=b"",
                kek_id=self.kek.id,
                version=1,
                created_by_user_id=by_user_id,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError:  # created by a concurrent request since `find_secret`
                raise ConflictError(f"a secret named {name!r} already exists for this owner") from None
        else:
            row.version += 1
            row.updated_at = now
            if purpose is not None:
                row.purpose = purpose
        _store(row, seal(value, kek=self.kek, binding=binding(row)))
        session.flush()
        # Known from now on: a later log line that carries it (a request body, a connector's error) is
        # redacted even before anyone decrypts it.
        secret_log_filter().add(value)
        return row, created

    def read(self, row: VaultSecret) -> SecretValue:
        """Decrypt one row. The plaintext is registered with the log filter before anyone can log it."""
        if row.kek_id != self.kek.id:
            raise VaultError(
                f"secret {row.name!r} (id {row.id}) was encrypted under key-encryption key {row.kek_id}, but "
                f"the configured key is {self.kek.id}: set MESHCLAW_VAULT_KEY (or the vault.key file) to the "
                "key in use, or finish `meshclaw vault rotate-kek`"
            )
        sealed = Sealed(
            ciphertext=row.ciphertext,
            nonce=row.nonce,
            wrapped_key=row.wrapped_key,
            wrap_nonce=row.wrap_nonce,
            kek_id=row.kek_id,
        )
        try:
            value = open_value(sealed, kek=self.kek, binding=binding(row))
        except SealError as exc:
            raise VaultError(
                f"secret {row.name!r} (id {row.id}) does not decrypt: its {exc} was altered, or copied "
                "from another secret's row"
            ) from None
        secret_log_filter().add(value)
        return SecretValue(value)

    def get(self, session: Session, *, org_id: int, owner_user_id: int | None, name: str) -> SecretValue:
        row = find_secret(session, org_id, owner=owner_of(owner_user_id), name=name)
        if row is None:
            raise NotFoundError(f"no secret named {name!r} for this owner")
        return self.read(row)
