"""Keys that must live outside the database: from an environment variable, or from a file in the data
directory that is created (0600) on first start.

The audit log's HMAC key and the vault's key-encryption key both come from here. Keeping them out of the
database is the point: whoever steals a database backup must not also get the key that forges the audit
chain or decrypts the secrets. The generated file is a convenience for a single machine; production sets
the variable (or mounts the file) from a secret store and keeps it out of the data directory's backups.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from meshclaw.errors import InvalidInputError

KEY_BYTES = 32
log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class LoadedKey:
    key: bytes
    source: Literal["env", "file", "created"]
    where: str
    """The variable name or the file path (never the key)."""

    def __repr__(self) -> str:  # the key itself must not reach a log line or a traceback
        return f"LoadedKey(source={self.source!r}, where={self.where!r})"


def decode_key(text: str, *, what: str) -> bytes:
    """A base64 (standard or URL-safe) key of exactly 32 bytes; the message never echoes the input."""
    # URL-safe and standard alphabets both accepted: normalize to standard, then decode strictly.
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(
            f"{what} is not valid base64; generate one with `openssl rand -base64 32`"
        ) from None
    if len(raw) != KEY_BYTES:
        raise InvalidInputError(
            f"{what} must decode to {KEY_BYTES} bytes (got {len(raw)}); generate one with `openssl rand -base64 32`"
        )
    return raw


def encode_key(key: bytes) -> str:
    return base64.b64encode(key).decode()


def read_key_file(path: Path, *, what: str) -> bytes:
    """Read a key file, refusing one that others on the machine can read."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidInputError(f"{what} file {path} is readable by others; run `chmod 600 {path}`")
    return decode_key(path.read_text(), what=f"{what} file {path}")


def write_key_file(path: Path, key: bytes) -> None:
    """Create `path` holding `key`, 0600 from the first byte, never overwriting an existing key.

    The key is written whole to a private temporary file, then linked to `path` (atomic, and fails if
    `path` exists): a process that loses the race to create it, or reads it at that moment, never sees a
    half-written key. (Two runs of a new server used to read an empty file here.)"""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(encode_key(key) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_or_create_key(
    *, env_var: str, path: Path, what: str, environ: Mapping[str, str] | None = None
) -> LoadedKey:
    """The key from `env_var` if set, else from `path`, creating the file with a random key if absent."""
    env = os.environ if environ is None else environ
    text = env.get(env_var, "")
    if text.strip():
        return LoadedKey(key=decode_key(text, what=env_var), source="env", where=env_var)
    if path.exists():
        return LoadedKey(key=read_key_file(path, what=what), source="file", where=str(path))
    key = secrets.token_bytes(KEY_BYTES)
    try:
        write_key_file(path, key)
    except FileExistsError:
        # Another process created it between our check and our write: use theirs.
        return LoadedKey(key=read_key_file(path, what=what), source="file", where=str(path))
    log.warning(
        "created a new %s in %s (mode 0600). For production set %s explicitly from your secret store, "
        "the same in every process that shares the database, and keep the key out of database backups "
        "and safe: without it existing data cannot be verified or decrypted",
        what,
        path,
        env_var,
    )
    return LoadedKey(key=key, source="created", where=str(path))
