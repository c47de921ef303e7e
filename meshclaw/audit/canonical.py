"""Canonical JSON: one byte string per value, so a digest or a MAC computed today matches tomorrow's.

Sorted keys, no whitespace, UTF-8 kept as is. Values that JSON has no type for (datetimes, decimals,
sets) are refused rather than stringified, because a silent `str()` could differ between versions.
"""

from __future__ import annotations

import hashlib
import json


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def digest(value: object) -> str:
    """sha256 (hex) of the canonical JSON of `value`: the argument digest approvals and audit share."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()
