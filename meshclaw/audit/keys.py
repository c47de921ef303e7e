"""The audit HMAC key: env `MESHCLAW_AUDIT_KEY` (base64, 32 bytes) or `<data_dir>/audit.key` (0600,
created on first start). Never stored in the database, or the chain could be rewritten from a dump."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from meshclaw.keyfile import LoadedKey, load_or_create_key

ENV_VAR = "MESHCLAW_AUDIT_KEY"
FILE_NAME = "audit.key"


def load_audit_key(data_dir: Path, *, environ: Mapping[str, str] | None = None) -> LoadedKey:
    return load_or_create_key(
        env_var=ENV_VAR, path=data_dir / FILE_NAME, what="audit HMAC key", environ=environ
    )
