"""The range of row ids: positive and within BIGINT (SQLite's INTEGER, PostgreSQL's bigint).

An id outside it names no row, and handing it to the database makes the driver fail (SQLite:
OverflowError; PostgreSQL: out of range), so every place that takes an id from outside (API, pages, CLI,
stores that accept text) checks it against this first. This module imports nothing: the CLI reads it at
start-up without loading database code."""

from __future__ import annotations

from typing import Final

MAX_ROW_ID: Final = 2**63 - 1
