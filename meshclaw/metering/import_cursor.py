"""Cursor daily usage (Admin API `POST /teams/daily-usage-data`) into MeshClaw events.

The file is the API's response as saved (`{"data": [row, ...], "period": {...}}`), a bare JSON array of
rows, or NDJSON. Row fields (research/metering.md §5.6 and Cursor's Admin API docs): `date` (epoch
milliseconds), `email`, `isActive`, `totalLinesAdded`, `totalLinesDeleted`, `acceptedLinesAdded`,
`acceptedLinesDeleted`, `totalApplies`, `totalAccepts`, `totalRejects`, `totalTabsShown`,
`totalTabsAccepted`, `composerRequests`, `chatRequests`, `agentRequests`, `cmdkUsages`,
`subscriptionIncludedReqs`, `apiKeyReqs`, `usageBasedReqs`, `bugbotUsages`, `mostUsedModel`,
`applyMostUsedExtension`, `tabMostUsedExtension`, `clientVersion`.

Mapping: accepted lines → `lines_of_code.added|removed`; `totalAccepts`/`totalRejects` →
`code_edit.decided` (accepted / rejected, one event per decision); tabs accepted and shown-but-not-accepted
→ `tab_completion.decided`; request counts and the rest → a `cursor.user_day` activity event. The daily
report has no tokens, so it adds no usage events (Cursor's per-event token report is another endpoint).
Rows are reported by their line in the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

import orjson

from meshclaw.db.row_ids import is_digits
from meshclaw.metering.import_rows import BadRow, ImportBatch, RowError, UserIndex, counter

TOOL = "cursor"
_COUNTS = (
    "totalLinesAdded",
    "totalLinesDeleted",
    "acceptedLinesAdded",
    "acceptedLinesDeleted",
    "totalApplies",
    "totalAccepts",
    "totalRejects",
    "totalTabsShown",
    "totalTabsAccepted",
    "composerRequests",
    "chatRequests",
    "agentRequests",
    "cmdkUsages",
    "subscriptionIncludedReqs",
    "apiKeyReqs",
    "usageBasedReqs",
    "bugbotUsages",
)
_LABELS = ("mostUsedModel", "applyMostUsedExtension", "tabMostUsedExtension", "clientVersion")


def _day(value: Any) -> date:
    millis: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        millis = value
    elif isinstance(value, str) and is_digits(value.strip()):
        millis = int(value)
    elif isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    if millis is not None:
        try:
            return datetime.fromtimestamp(millis / 1000, tz=UTC).date()
        except (OverflowError, OSError, ValueError):  # past the years a date can hold, or NaN
            pass
    raise RowError(f"date must be epoch milliseconds or YYYY-MM-DD, not {str(value)[:40]!r}")


def _row(batch: ImportBatch, row: Mapping[str, Any], users: UserIndex) -> None:
    day = _day(row.get("date"))
    user_id = users.email(row.get("email"))
    counts = {name: counter(row, name) for name in _COUNTS}
    key = str(row.get("email")).strip().lower()
    batch.outcome(day, user_id, "lines_of_code.added", counts["acceptedLinesAdded"], key=key)
    batch.outcome(day, user_id, "lines_of_code.removed", counts["acceptedLinesDeleted"], key=key)
    batch.outcome(day, user_id, "code_edit.decided", counts["totalAccepts"], key=key, accepted=True)
    batch.outcome(day, user_id, "code_edit.decided", counts["totalRejects"], key=key, accepted=False)
    tabs_accepted = counts["totalTabsAccepted"]
    tabs_ignored = max(0, counts["totalTabsShown"] - tabs_accepted)
    batch.outcome(day, user_id, "tab_completion.decided", tabs_accepted, key=key, accepted=True)
    batch.outcome(day, user_id, "tab_completion.decided", tabs_ignored, key=key, accepted=False)
    if row.get("isActive") is False and not any(counts.values()):
        return
    labels = {name: str(row[name])[:200] for name in _LABELS if isinstance(row.get(name), str)}
    attributes: dict[str, Any] = {**counts, **labels, "isActive": bool(row.get("isActive", True))}
    batch.activity(day, user_id, "cursor.user_day", key=key, attributes=attributes)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _array_items(text: str, pos: int) -> Iterator[tuple[int, Any]]:
    """The elements of the JSON array starting at `pos`, each with the line it starts on."""
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, pos + 1)
    if text[pos] == "]":
        return
    while True:
        pos = _skip_ws(text, pos)
        item, end = decoder.raw_decode(text, pos)
        yield _line(text, pos), item
        pos = _skip_ws(text, end)
        if text[pos] == "]":
            return
        pos += 1  # the comma


def _rows(text: str) -> Iterator[tuple[int, Any]]:
    """Rows with their line numbers, from the API response object, a bare array, or NDJSON."""
    start = _skip_ws(text, 0)
    if start < len(text) and text[start] == "[":
        yield from _array_items(text, start)
        return
    if start < len(text) and text[start] == "{":
        decoder = json.JSONDecoder()
        pos = _skip_ws(text, start + 1)
        while pos < len(text) and text[pos] != "}":
            key, pos = decoder.raw_decode(text, pos)
            pos = _skip_ws(text, _skip_ws(text, pos) + 1)  # past the colon
            if key == "data" and text[pos] == "[":
                yield from _array_items(text, pos)
                return
            _, pos = decoder.raw_decode(text, pos)
            pos = _skip_ws(text, pos)
            if text[pos] == ",":
                pos = _skip_ws(text, pos + 1)
        raise RowError('the JSON object has no "data" array of daily rows')
    raise RowError("expected the daily-usage-data response, a JSON array of rows, or NDJSON")


def parse_cursor(data: bytes, users: UserIndex) -> ImportBatch:
    batch = ImportBatch(tool=TOOL)
    text = data.decode("utf-8", errors="replace")
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        document = None
    if (isinstance(document, dict) and isinstance(document.get("data"), list)) or isinstance(document, list):
        try:
            rows = list(_rows(text))
        except RowError as exc:
            batch.bad.append(BadRow(1, str(exc)))
            return batch
    elif isinstance(document, dict):
        batch.bad.append(BadRow(1, 'the JSON object has no "data" array of daily rows'))
        return batch
    else:
        rows = _ndjson(text, batch)
    for number, row in rows:
        batch.rows += 1
        if not isinstance(row, dict):
            batch.bad.append(BadRow(number, "each row must be a JSON object"))
            continue
        try:
            _row(batch, row, users)
        except RowError as exc:
            batch.bad.append(BadRow(number, str(exc)))
    return batch


def _ndjson(text: str, batch: ImportBatch) -> list[tuple[int, Any]]:
    rows: list[tuple[int, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((number, orjson.loads(line)))
        except orjson.JSONDecodeError as exc:
            batch.rows += 1
            batch.bad.append(BadRow(number, f"not valid JSON ({exc})"))
    return rows
