"""Odd values in a Copilot or Cursor report's fields (null, the wrong type, empty or very long strings,
numbers past 64 bits, negative, non-finite, impossible dates) are reported as bad rows by line (422) or
imported as what they can be, never a 500; and nothing half-written: a refused file adds nothing.

Starts from the first row of each sample report and replaces one top-level field at a time."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from meshclaw.context import AppContext
from meshclaw.db.models import OutcomeEventRow, UsageEventRow
from meshclaw.identity.principal import Role
from tests.conftest import People

DATA = Path(__file__).with_name("data")
ODD: list[Any] = [None, "", "x" * 5000, 2**70, -(2**70), -1, 1e308, math.nan, [], {}, True, "2026-13-45"]


def copilot_rows() -> Iterator[tuple[str, bytes]]:
    row = json.loads((DATA / "copilot-users-28-day.ndjson").read_text().splitlines()[0])
    for field in row:
        for value in ODD:
            yield f"{field}={str(value)[:12]}", json.dumps({**row, field: value}).encode() + b"\n"


def cursor_rows() -> Iterator[tuple[str, bytes]]:
    report = json.loads((DATA / "cursor-daily-usage.json").read_text())
    row = report["data"][0]
    for field in row:
        for value in ODD:
            yield (
                f"{field}={str(value)[:12]}",
                json.dumps({**report, "data": [{**row, field: value}]}).encode(),
            )


def stored(context: AppContext) -> tuple[int, int]:
    with context.db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(UsageEventRow)) or 0,
            session.scalar(select(func.count()).select_from(OutcomeEventRow)) or 0,
        )


def test_odd_values_in_reports_are_bad_rows_or_imported_never_a_500(
    client: TestClient, context: AppContext, people: People
) -> None:
    admin = people.add(Role.ADMIN)
    people.add(email="alice@example.org")
    lenient = TestClient(client.app, raise_server_exceptions=False)
    recorder = client.app.state.recorder  # type: ignore[attr-defined]
    sent, wrong, before = 0, [], stored(context)
    for fmt, rows in (("copilot", copilot_rows()), ("cursor", cursor_rows())):
        for what, data in rows:
            answer = lenient.post(
                "/api/v1/usage/imports", params={"format": fmt, "login": "alice=alice@example.org"}
                if fmt == "copilot" else {"format": fmt}, content=data, headers=admin.auth,
            )  # fmt: skip
            sent += 1
            if answer.status_code >= 500 or answer.status_code not in (200, 400, 422):
                wrong.append(f"{fmt} {what}: {answer.status_code} {answer.text[:100]}")
            recorder.flush()
            now = stored(context)
            if answer.status_code != 200 and now != before:
                wrong.append(f"{fmt} {what}: refused ({answer.status_code}) yet stored {now} after {before}")
            before = now
    assert sent > 200
    assert wrong == [], "\n".join(wrong)
