"""Envelope encryption of one value, with no SQL: `seal` and `open_value`.

value --AES-256-GCM(data key, nonce, AAD "value" + row)--> ciphertext
data key --AES-256-GCM(KEK, wrap nonce, AAD "data-key" + row)--> wrapped_key

Nonces are random 96-bit values; each data key encrypts exactly one value (a replaced value gets a new
data key), and the KEK wraps one data key per secret, far below GCM's random-nonce limit of ~2^32
messages per key.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from meshclaw.vault.keys import Kek


class SealError(Exception):
    """A ciphertext or wrapped key did not authenticate (wrong key, altered bytes or another row's data)."""


@dataclass(frozen=True, kw_only=True)
class RowBinding:
    """What a ciphertext is bound to: moving it to a row that differs in any of these fails."""

    secret_id: int
    org_id: int
    owner: str
    name: str

    def aad(self, part: str) -> bytes:
        return json.dumps(
            ["meshclaw-vault/v1", part, self.secret_id, self.org_id, self.owner, self.name]
        ).encode()


@dataclass(frozen=True, kw_only=True)
class Sealed:
    ciphertext: bytes
    nonce: bytes
    wrapped_key: bytes
    wrap_nonce: bytes
    kek_id: str


def seal(value: str, *, kek: Kek, binding: RowBinding) -> Sealed:
    data_key = AESGCM.generate_key(bit_length=256)
    nonce, wrap_nonce = os.urandom(12), os.urandom(12)
    return Sealed(
        ciphertext=AESGCM(data_key).encrypt(nonce, value.encode(), binding.aad("value")),
        nonce=nonce,
        wrapped_key=AESGCM(kek.key).encrypt(wrap_nonce, data_key, binding.aad("data-key")),
        wrap_nonce=wrap_nonce,
        kek_id=kek.id,
    )


def unwrap(wrapped_key: bytes, wrap_nonce: bytes, *, kek: Kek, binding: RowBinding) -> bytes:
    try:
        return AESGCM(kek.key).decrypt(wrap_nonce, wrapped_key, binding.aad("data-key"))
    except InvalidTag:
        raise SealError("data key") from None


def wrap(data_key: bytes, *, kek: Kek, binding: RowBinding) -> tuple[bytes, bytes]:
    wrap_nonce = os.urandom(12)
    return AESGCM(kek.key).encrypt(wrap_nonce, data_key, binding.aad("data-key")), wrap_nonce


def open_value(sealed: Sealed, *, kek: Kek, binding: RowBinding) -> str:
    data_key = unwrap(sealed.wrapped_key, sealed.wrap_nonce, kek=kek, binding=binding)
    try:
        return AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext, binding.aad("value")).decode()
    except InvalidTag:
        raise SealError("value") from None
