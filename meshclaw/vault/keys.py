"""The key-encryption key (KEK): env `MESHCLAW_VAULT_KEY` (base64, 32 bytes) or `<data_dir>/vault.key`
(0600, created on first start with a log line saying production should set it explicitly).

A KEK is known by its fingerprint (`kek_id`), stored on every row it wrapped, so a wrong key is named as
such instead of looking like corrupt data, and rotation knows which rows are done.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from meshclaw.keyfile import LoadedKey, load_or_create_key, read_key_file

ENV_VAR = "MESHCLAW_VAULT_KEY"
FILE_NAME = "vault.key"


def kek_fingerprint(key: bytes) -> str:
    # A domain-separated hash of a random 256-bit key reveals nothing usable about it.
    return hashlib.sha256(b"meshclaw-vault-kek-id\x00" + key).hexdigest()[:16]


@dataclass(frozen=True)
class Kek:
    key: bytes = field(repr=False)
    id: str = ""

    @classmethod
    def of(cls, key: bytes) -> Kek:
        return cls(key, kek_fingerprint(key))


def load_kek(data_dir: Path, *, environ: Mapping[str, str] | None = None) -> tuple[Kek, LoadedKey]:
    loaded = load_or_create_key(
        env_var=ENV_VAR, path=data_dir / FILE_NAME, what="vault key-encryption key", environ=environ
    )
    return Kek.of(loaded.key), loaded


def kek_from_file(path: Path) -> Kek:
    return Kek.of(read_key_file(path, what="key-encryption key"))
