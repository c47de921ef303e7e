"""OTLP JSON requests built by hand: resends, cumulative counters across a restart, identity rules and
partial success, and the Codex and Gemini CLI event shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from meshclaw.identity.principal import Role
from tests.conftest import People, Person
from tests.ingest import otlp_json as otlp
from tests.ingest.conftest import OtlpServer, running_server
from tests.postgres import BOTH_BACKENDS

CLAUDE = {"service.name": "claude-code"}


def post(server: OtlpServer, path: str, body: dict[str, Any], person: Person) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", json=body, headers=person.auth, timeout=10)


def tokens(person_email: str, kind: str) -> dict[str, Any]:
    return {"user.email": person_email, "session.id": "s-9", "model": "claude-opus-4-1", "type": kind}


@BOTH_BACKENDS
def test_a_resent_delta_export_counts_once(otlp_server: OtlpServer, people: People) -> None:
    person = people.add(scopes=["ingest"])
    window = (otlp.T0, otlp.T0 + 60 * otlp.NANOS)
    body = otlp.metrics(
        CLAUDE,
        otlp.sum_metric(
            "claude_code.token.usage",
            [(tokens(person.email, "input"), 500, *window), (tokens(person.email, "output"), 70, *window)],
        ),
        otlp.sum_metric("claude_code.pull_request.count", [({"user.email": person.email}, 1, *window)]),
    )
    for _ in range(3):
        answer = post(otlp_server, "/v1/metrics", body, person)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/json"
        assert answer.json() == {}
    [usage] = otlp_server.usage()
    assert (usage.input_uncached, usage.output, usage.user_id) == (500, 70, person.id)
    [pull_request] = otlp_server.outcomes()
    assert (pull_request.type, pull_request.quantity) == ("pull_request.created", 1)


def cumulative_commits(email: str, value: int, at_s: int, *, start: int = otlp.T0) -> dict[str, Any]:
    point = ({"user.email": email, "session.id": "s-1"}, value, start, otlp.T0 + at_s * otlp.NANOS)
    return otlp.metrics(
        CLAUDE, otlp.sum_metric("claude_code.commit.count", [point], temporality=otlp.CUMULATIVE)
    )


def commits(server: OtlpServer) -> float:
    return sum(row.quantity for row in server.outcomes() if row.type == "commit.created")


def test_cumulative_counters_record_increases_across_a_restart(
    tmp_path: Path, database_url: str, people: People
) -> None:
    person = people.add(scopes=["ingest"])
    with running_server(tmp_path, database_url) as server:
        for value, at in ((2, 60), (2, 120), (5, 180), (5, 180)):  # a repeat and a resend
            assert post(server, "/v1/metrics", cumulative_commits(person.email, value, at), person).is_success
        assert commits(server) == 5
    with running_server(tmp_path, database_url) as restarted:
        # The process forgot its readings; the database remembers the last one (5 at 180 s).
        assert post(restarted, "/v1/metrics", cumulative_commits(person.email, 5, 180), person).is_success
        assert post(restarted, "/v1/metrics", cumulative_commits(person.email, 7, 240), person).is_success
        assert commits(restarted) == 7
        # The exporter restarted: a new start time begins a new accumulation.
        later = otlp.T0 + 300 * otlp.NANOS
        body = cumulative_commits(person.email, 1, 310, start=later)
        assert post(restarted, "/v1/metrics", body, person).is_success
        assert commits(restarted) == 8


def test_unknown_emails_are_rejected_in_partial_success(otlp_server: OtlpServer, people: People) -> None:
    person = people.add(scopes=["ingest"])
    window = (otlp.T0, otlp.T0 + 60 * otlp.NANOS)
    body = otlp.metrics(
        CLAUDE,
        otlp.sum_metric(
            "claude_code.commit.count",
            [({"user.email": person.email}, 1, *window), ({"user.email": "ghost@example.org"}, 4, *window)],
        ),
    )
    answer = post(otlp_server, "/v1/metrics", body, person)
    assert answer.status_code == 200
    partial = answer.json()["partialSuccess"]
    assert partial["rejectedDataPoints"] == "1"
    assert "ghost@example.org" in partial["errorMessage"]
    assert commits(otlp_server) == 1


def test_a_member_key_cannot_report_for_a_colleague_but_an_admin_key_can(
    otlp_server: OtlpServer, people: People
) -> None:
    member = people.add(scopes=["ingest"])
    colleague = people.add()
    admin = people.add(Role.ADMIN, scopes=["ingest"])
    record = [("claude_code.user_prompt", {"user.email": colleague.email, "prompt_length": 12}, otlp.T0)]
    refused = post(otlp_server, "/v1/logs", otlp.logs(CLAUDE, record), member)
    assert refused.json()["partialSuccess"]["rejectedLogRecords"] == "1"
    assert "only report its owner's" in refused.json()["partialSuccess"]["errorMessage"]
    accepted = post(otlp_server, "/v1/logs", otlp.logs(CLAUDE, record), admin)
    assert accepted.json() == {}
    [activity] = otlp_server.activities()
    assert activity.user_id == colleague.id


def test_codex_and_gemini_events_map_into_exclusive_buckets(otlp_server: OtlpServer, people: People) -> None:
    person = people.add(scopes=["ingest"])
    codex = {
        "conversation.id": "c-1",
        "model": "gpt-5-codex",
        "event.kind": "response.completed",
        "input_token_count": 10_000,
        "cached_token_count": 8_000,
        "output_token_count": 900,
        "reasoning_token_count": 600,
        "tool_token_count": 0,
    }
    codex_prompt = {"conversation.id": "c-1", "prompt_length": 80, "prompt": "[REDACTED]"}
    answer = post(
        otlp_server,
        "/v1/logs",
        otlp.logs(
            {"service.name": "codex_exec"},
            [("codex.sse_event", codex, otlp.T0), ("codex.user_prompt", codex_prompt, otlp.T0)],
        ),
        person,
    )
    assert answer.json() == {}
    gemini = {
        "session.id": "g-1",
        "model": "gemini-2.5-pro",
        "input_token_count": 3_000,
        "cached_content_token_count": 1_000,
        "output_token_count": 400,
        "thoughts_token_count": 250,
        "tool_token_count": 30,
        "duration_ms": 1800,
        "status_code": 200,
    }
    body = otlp.logs({"service.name": "gemini-cli"}, [("gemini_cli.api_response", gemini, otlp.T0)])
    assert post(otlp_server, "/v1/logs", body, person).json() == {}

    rows = {row.client: row for row in otlp_server.usage()}
    codex_row, gemini_row = rows["codex_exec"], rows["gemini-cli"]
    assert (codex_row.input_uncached, codex_row.cache_read, codex_row.output, codex_row.reasoning) == (
        2_000,
        8_000,
        300,
        600,
    )
    assert (codex_row.provider, codex_row.session_id) == ("openai", "c-1")
    assert (gemini_row.input_uncached, gemini_row.cache_read, gemini_row.output, gemini_row.reasoning) == (
        2_030,
        1_000,
        400,
        250,
    )
    assert gemini_row.latency_ms == 1800
    [prompt] = otlp_server.activities()
    assert prompt.name == "codex.user_prompt" and prompt.attributes == {
        "conversation.id": "c-1",
        "prompt_length": 80,
    }


def test_spans_with_hex_ids_count_once_and_failed_spans_are_errors(
    otlp_server: OtlpServer, people: People
) -> None:
    person = people.add(scopes=["ingest"])
    usage = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "anthropic",  # the deprecated name is still read
        "gen_ai.request.model": "claude-haiku-4-5",
        "gen_ai.usage.prompt_tokens": 300,
        "gen_ai.usage.completion_tokens": 20,
    }
    trace_id, span_id = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
    body = otlp.spans({"service.name": "support-bot"}, [(trace_id, span_id, usage, otlp.T0, otlp.T0 + 10**9)])
    failed = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0] | {
        "spanId": "eee19b7ec3c1b175",
        "status": {"code": 2, "message": "overloaded"},
    }
    body["resourceSpans"][0]["scopeSpans"][0]["spans"].append(failed)
    for _ in range(2):
        assert post(otlp_server, "/v1/traces", body, person).json() == {}
    rows = otlp_server.usage()
    assert sorted(row.status for row in rows) == ["error", "ok"]
    assert all((row.input_uncached, row.output, row.provider) == (300, 20, "anthropic") for row in rows)
    assert {row.latency_ms for row in rows} == {1000}


@pytest.mark.parametrize("path", ["/v1/metrics", "/v1/logs", "/v1/traces"])
def test_an_empty_export_is_accepted(otlp_server: OtlpServer, people: People, path: str) -> None:
    answer = post(otlp_server, path, {}, people.add(scopes=["ingest"]))
    assert (answer.status_code, answer.json()) == (200, {})
