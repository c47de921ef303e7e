"""The crash journal's line format: every field survives the round trip, and older lines still replay."""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta

import orjson

from meshclaw.metering.events import ActivityEvent, OutcomeEvent, TokenBuckets, UsageEvent
from meshclaw.metering.journal_records import decode, encode_other, encode_usage

AT = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)


def _usage() -> UsageEvent:
    # Every field set to a value different from its default, so a field dropped or misplaced shows.
    return UsageEvent(
        event_id="e1", source="agent", started_at=AT, ended_at=AT + timedelta(seconds=2), status="error",
        error="upstream 502", provider="openai", operation="responses", requested_model="gpt-x",
        model="gpt-x-2026", tokens=TokenBuckets(input_uncached=1, cache_read=2, cache_write=3, output=4, reasoning=5),
        raw_usage={"prompt_tokens": 6}, cost_usd=0.25, user_id=7, team_id=8, agent_id=9, run_id="r1",
        api_key_id=10, client="codex", initiator="automation", prompt_hash="ab" * 16, session_id="s1",
        attributes={"k": "v"},
    )  # fmt: skip


def test_usage_round_trips_every_field() -> None:
    event = _usage()
    assert all(getattr(event, f.name) != f.default for f in fields(UsageEvent) if f.name != "tokens")
    assert decode(orjson.loads(encode_usage(event))) == event


def test_outcomes_and_activities_round_trip() -> None:
    outcome = OutcomeEvent(event_id="o1", type="email.triaged", occurred_at=AT, source="agent", quantity=2,
                           accepted=True, minutes_saved=1.5, user_id=1, team_id=2, agent_id=3, run_id="r",
                           client="c", session_id="s", attributes={"a": 1})  # fmt: skip
    activity = ActivityEvent(event_id="a1", name="tool_result", occurred_at=AT, source="otlp", user_id=1,
                             team_id=2, agent_id=3, client="c", session_id="s", attributes={"b": 2})  # fmt: skip
    assert decode(orjson.loads(encode_other("o", outcome))) == outcome
    assert decode(orjson.loads(encode_other("a", activity))) == activity


def test_older_dict_lines_still_decode() -> None:
    event = _usage()
    assert decode(orjson.loads(orjson.dumps({"kind": "usage", "event": asdict(event)}))) == event


def test_a_shorter_line_leaves_newer_fields_at_their_defaults() -> None:
    line = orjson.loads(encode_usage(_usage()))[:-2]  # as if written before session_id and attributes
    decoded = decode(line)
    assert isinstance(decoded, UsageEvent)
    assert decoded.session_id is None and decoded.attributes is None and decoded.run_id == "r1"


def test_unknown_records_are_skipped() -> None:
    assert decode(["x", 1]) is None
    assert decode({"kind": "nope", "event": {}}) is None
    assert decode(42) is None
