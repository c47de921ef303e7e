"""GitHub Copilot usage-metrics reports (NDJSON, one user-day per line) into MeshClaw events.

Fields (research/metering.md §5.5 and GitHub's example schema): `day`, `user_login`, `user_id`,
`code_generation_activity_count`, `code_acceptance_activity_count`, `loc_added_sum`, `loc_deleted_sum`,
`loc_suggested_to_add_sum`, `user_initiated_interaction_count`, `used_agent|chat|cli`, and
`totals_by_cli{request_count, prompt_count, session_count, token_usage{prompt_tokens_sum,
output_tokens_sum}}`. The report names people by GitHub login, not email (see `UserIndex`).

Mapping:
- `code_acceptance_activity_count` accepted and (generations - acceptances) not accepted suggestions →
  `code_suggestion.decided` outcomes (one per decision);
- `loc_added_sum` / `loc_deleted_sum` → `lines_of_code.added` / `lines_of_code.removed`;
- CLI token sums → one `UsageEvent` per user-day (client `copilot-cli`, operation `aggregate`; the report
  has no cache breakdown or model, so input counts as uncached and no price applies);
- the remaining counts → a `copilot.user_day` activity event.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import orjson

from meshclaw.metering.events import TokenBuckets, UsageEvent
from meshclaw.metering.import_rows import BadRow, ImportBatch, RowError, UserIndex, counter
from meshclaw.metering.otel_values import event_id

TOOL = "copilot"
_DAY_COUNTS = (
    "user_initiated_interaction_count",
    "code_generation_activity_count",
    "code_acceptance_activity_count",
    "loc_suggested_to_add_sum",
    "loc_suggested_to_delete_sum",
    "loc_added_sum",
    "loc_deleted_sum",
)


def _day(row: Mapping[str, Any]) -> date:
    value = row.get("day")
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise RowError(f"day must be a date like 2025-10-01, not {value!r}") from None


def _row(batch: ImportBatch, row: Mapping[str, Any], users: UserIndex) -> None:
    day = _day(row)
    user_id = users.email(row["user_email"]) if row.get("user_email") else users.login(row.get("user_login"))
    key = str(row.get("user_id") or row.get("user_login"))
    counts = {name: counter(row, name) for name in _DAY_COUNTS}
    cli = row.get("totals_by_cli") or {}
    if not isinstance(cli, Mapping):
        raise RowError("totals_by_cli must be an object")
    token_usage = cli.get("token_usage") or {}
    if not isinstance(token_usage, Mapping):
        raise RowError("totals_by_cli.token_usage must be an object")
    prompt_tokens = counter(token_usage, "prompt_tokens_sum")
    output_tokens = counter(token_usage, "output_tokens_sum")
    cli_counts = {
        f"cli_{name}": counter(cli, name) for name in ("request_count", "prompt_count", "session_count")
    }

    accepted = counts["code_acceptance_activity_count"]
    not_accepted = max(0, counts["code_generation_activity_count"] - accepted)
    batch.outcome(day, user_id, "code_suggestion.decided", accepted, key=key, accepted=True)
    batch.outcome(day, user_id, "code_suggestion.decided", not_accepted, key=key, accepted=False)
    batch.outcome(day, user_id, "lines_of_code.added", counts["loc_added_sum"], key=key)
    batch.outcome(day, user_id, "lines_of_code.removed", counts["loc_deleted_sum"], key=key)
    if prompt_tokens or output_tokens:
        start, end = batch.day_window(day)
        batch.usage.append(
            UsageEvent(
                event_id=event_id("import-copilot", key, day.isoformat(), "cli-tokens"),
                source="import",
                started_at=start,
                ended_at=end,
                operation="aggregate",
                tokens=TokenBuckets(input_uncached=prompt_tokens, output=output_tokens),
                raw_usage=dict(token_usage),
                user_id=user_id,
                client="copilot-cli",
                attributes=cli_counts,
            )
        )
    flags = {name: bool(row[name]) for name in ("used_agent", "used_chat", "used_cli") if name in row}
    batch.activity(day, user_id, "copilot.user_day", key=key, attributes={**counts, **cli_counts, **flags})


def parse_copilot(data: bytes, users: UserIndex) -> ImportBatch:
    batch = ImportBatch(tool=TOOL)
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        batch.rows += 1
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            batch.bad.append(BadRow(number, f"not valid JSON ({exc})"))
            continue
        if not isinstance(row, dict):
            batch.bad.append(BadRow(number, "each line must be one JSON object (a user-day record)"))
            continue
        try:
            _row(batch, row, users)
        except RowError as exc:
            batch.bad.append(BadRow(number, str(exc)))
    return batch
