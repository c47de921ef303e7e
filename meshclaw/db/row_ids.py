"""The range of row ids: positive and within BIGINT (SQLite's INTEGER, PostgreSQL's bigint).

An id outside it names no row, and handing it to the database makes the driver fail (SQLite:
OverflowError; PostgreSQL: out of range), so every place that takes an id from outside (API, pages, CLI,
stores that accept text) checks it against this first. This module imports nothing: the CLI reads it at
start-up without loading database code."""

from __future__ import annotations

from typing import Final

MAX_ROW_ID: Final = 2**63 - 1
MAX_DIGITS: Final = len(str(MAX_ROW_ID))
"""19. Text is measured before `int()`: Python refuses to convert more than 4,300 digits (ValueError), so a
long enough string of digits was a 500 wherever it was taken for a number."""


def is_digits(text: str) -> bool:
    """ASCII digits only, and few enough to be a 64-bit number's."""
    return 0 < len(text) <= MAX_DIGITS and text.isascii() and text.isdigit()


def row_id_of(text: str) -> int | None:
    """The row id `text` spells (ASCII digits, 1 to MAX_ROW_ID), or None: no row can have it."""
    if not is_digits(text):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ROW_ID else None
