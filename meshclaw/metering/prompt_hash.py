"""A normalized fingerprint of a prompt, so repetition can be analysed without storing prompt text.

Normalization folds case and white space and masks numbers, so "run report 17" and "Run  report 18"
count as the same prompt: the signal we want is "the same request over and over", not byte equality.
"""

from __future__ import annotations

import hashlib
import re

_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"\d+")


def prompt_hash(text: str) -> str | None:
    normalized = _NUMBER.sub("#", _SPACE.sub(" ", text).strip().lower())
    if not normalized:
        return None
    return hashlib.sha256(normalized.encode()).hexdigest()[:32]
