"""Rotating the key-encryption key: every data key is unwrapped with the old KEK and wrapped with the new
one; values are not touched (their data keys do not change).

Each batch commits on its own and each row changes in one UPDATE (wrapped key, nonce and `kek_id`
together), so an interrupted rotation leaves every row readable with exactly the key its `kek_id` names,
and running it again picks up where it stopped: rows already under the new key are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from meshclaw.db.engine import Database
from meshclaw.db.models.vault import VaultSecret
from meshclaw.errors import InvalidInputError
from meshclaw.vault.crypto import SealError, unwrap, wrap
from meshclaw.vault.keys import Kek
from meshclaw.vault.store import VaultError, binding


@dataclass(frozen=True, kw_only=True)
class Rotation:
    rewrapped: int
    already: int
    """Rows that were under the new key before this run (a resumed rotation)."""


def rotate_kek(db: Database, *, old: Kek, new: Kek, batch: int = 200) -> Rotation:
    if old.id == new.id:
        raise InvalidInputError("the new key-encryption key is the same as the current one", field="new_key")
    with db.session() as session:
        stray = session.scalars(
            select(VaultSecret.kek_id).where(VaultSecret.kek_id.not_in((old.id, new.id))).limit(1)
        ).first()
        already = len(list(session.scalars(select(VaultSecret.id).where(VaultSecret.kek_id == new.id))))
    if stray is not None:
        raise VaultError(
            f"some secrets are under key-encryption key {stray}, neither the current ({old.id}) nor the new "
            f"({new.id}) one; rotate them with that key first"
        )
    rewrapped = 0
    while True:
        with db.session() as session:
            rows = list(
                session.scalars(
                    select(VaultSecret)
                    .where(VaultSecret.kek_id == old.id)
                    .order_by(VaultSecret.id)
                    .limit(batch)
                )
            )
            for row in rows:
                try:
                    data_key = unwrap(row.wrapped_key, row.wrap_nonce, kek=old, binding=binding(row))
                except SealError:
                    raise VaultError(
                        f"secret {row.name!r} (id {row.id}): its data key does not unwrap with the current key; "
                        "it was altered or copied from another row. Nothing after it was rotated."
                    ) from None
                row.wrapped_key, row.wrap_nonce = wrap(data_key, kek=new, binding=binding(row))
                row.kek_id = new.id
            rewrapped += len(rows)
        if len(rows) < batch:
            return Rotation(rewrapped=rewrapped, already=already)
