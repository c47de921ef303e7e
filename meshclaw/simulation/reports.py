"""Outcomes that reach MeshClaw as reports rather than telemetry.

- Cursor users' days as rows of Cursor's Admin API daily usage report, parsed by metering's Cursor
  importer (`meshclaw import cursor`): accepted lines, accepted and rejected edits, tab completions.
- Developers' commits, pull requests and merges for tools that do not report them (Cursor, Codex), and
  merges for everyone (no coding tool reports a merge), shaped as a repository report import would record
  them (`source=import`, client `github`), with metering's import batch. MeshClaw has no GitHub importer
  yet; these events are what one would produce.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import orjson

from meshclaw.metering.import_cursor import parse_cursor
from meshclaw.metering.import_rows import ImportBatch, UserIndex
from meshclaw.simulation.org import SimPerson
from meshclaw.simulation.plan import DayPlan


def cursor_row(person: SimPerson, plan: DayPlan, day: date, rng: random.Random) -> dict[str, Any]:
    requests = len(plan.calls)
    shown = rng.randint(0, requests)
    return {
        "date": int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000),
        "email": person.email,
        "isActive": requests > 0,
        "totalLinesAdded": plan.lines_added + plan.edits_rejected * rng.randint(5, 40),
        "totalLinesDeleted": plan.lines_removed,
        "acceptedLinesAdded": plan.lines_added,
        "acceptedLinesDeleted": plan.lines_removed,
        "totalApplies": plan.edits_accepted + plan.edits_rejected,
        "totalAccepts": plan.edits_accepted,
        "totalRejects": plan.edits_rejected,
        "totalTabsShown": shown,
        "totalTabsAccepted": int(shown * rng.uniform(0.2, 0.4)),
        "composerRequests": requests // 2,
        "chatRequests": requests - requests // 2,
        "agentRequests": requests // 3,
        "cmdkUsages": rng.randint(0, 5) if requests else 0,
        "mostUsedModel": plan.calls[0].model.name if plan.calls else "",
        "clientVersion": "1.7.44",
    }


def cursor_report(rows: list[dict[str, Any]], users: UserIndex) -> ImportBatch:
    """The rows as the report file, through the Cursor importer."""
    return parse_cursor(orjson.dumps({"data": rows}), users)


def repository_outcomes(
    batch: ImportBatch, person: SimPerson, plan: DayPlan, day: date, *, with_commits: bool
) -> None:
    if with_commits:
        batch.outcome(day, person.user_id, "commit.created", plan.commits, key=person.email)
        batch.outcome(day, person.user_id, "pull_request.created", plan.prs, key=person.email)
    batch.outcome(day, person.user_id, "pull_request.merged", plan.merged, key=person.email)


def user_index(people: Mapping[str, int]) -> UserIndex:
    return UserIndex.build(people)
