"""Importing a usage report file: match its people to MeshClaw users, map it, record it, summarize.

Shared by `meshclaw import copilot|cursor FILE` and `POST /api/v1/usage/imports`. The whole file is
mapped before anything is recorded; with bad rows nothing is recorded unless `skip_bad` is set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select

from meshclaw.context import AppContext
from meshclaw.db.models import User
from meshclaw.errors import InvalidInputError
from meshclaw.metering.import_copilot import parse_copilot
from meshclaw.metering.import_cursor import parse_cursor
from meshclaw.metering.import_rows import BadRow, BadRowsError, ImportBatch, UserIndex
from meshclaw.metering.recorder import Recorder

ReportFormat = Literal["copilot", "cursor"]
PARSERS: dict[ReportFormat, Callable[[bytes, UserIndex], ImportBatch]] = {
    "copilot": parse_copilot,
    "cursor": parse_cursor,
}


@dataclass(frozen=True, kw_only=True)
class ImportSummary:
    format: ReportFormat
    rows: int
    skipped: list[BadRow]
    usage_events: int
    outcome_events: int
    activity_events: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "rows": self.rows,
            "imported_rows": self.rows - len(self.skipped),
            "skipped": [{"line": row.line, "error": row.error} for row in self.skipped],
            "events": {
                "usage": self.usage_events,
                "outcomes": self.outcome_events,
                "activities": self.activity_events,
            },
        }


def parse_logins(pairs: list[str] | None) -> dict[str, str]:
    """`LOGIN=EMAIL` pairs (CLI `--login`, API `login=`) for GitHub logins that are not an email's local part."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        login, sep, email = pair.partition("=")
        if not sep or not login.strip() or "@" not in email:
            raise InvalidInputError(f"a login mapping is LOGIN=EMAIL, not {pair!r}", field="login")
        mapping[login.strip()] = email.strip()
    return mapping


def user_index(context: AppContext, org_id: int, logins: Mapping[str, str] | None = None) -> UserIndex:
    with context.db.session() as session:
        rows = session.execute(select(User.email, User.id).where(User.org_id == org_id)).all()
    users = {email: user_id for email, user_id in rows}
    return UserIndex.build(users, logins=logins)


def import_report(
    context: AppContext,
    recorder: Recorder,
    *,
    org_id: int,
    report_format: ReportFormat,
    data: bytes,
    skip_bad: bool = False,
    logins: Mapping[str, str] | None = None,
) -> ImportSummary:
    batch = PARSERS[report_format](data, user_index(context, org_id, logins))
    if batch.rows == 0:
        raise InvalidInputError(f"the file has no {report_format} rows")
    if batch.bad and not skip_bad:
        raise BadRowsError(batch.bad)
    for usage in batch.usage:
        recorder.record_usage(usage)
    for outcome in batch.outcomes:
        recorder.record_outcome(outcome)
    for activity in batch.activities:
        recorder.record_activity(activity)
    return ImportSummary(
        format=report_format,
        rows=batch.rows,
        skipped=batch.bad,
        usage_events=len(batch.usage),
        outcome_events=len(batch.outcomes),
        activity_events=len(batch.activities),
    )
