"""Odd values anywhere an exporter can put them (attribute values of the wrong type, numbers past int64,
non-finite doubles, empty and very long strings, impossible timestamps and ids) are refused or read as
nothing, a 200 with a partial success or a 400, never a 500; and the ingest keeps working afterwards.

Starts from one valid export per signal (a Claude Code token metric, an `api_request` log record, a GenAI
span) and replaces one field at a time: each attribute's value with each odd value, then the timestamps,
the metric's number and the span's ids."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx

from tests.conftest import People
from tests.ingest import otlp_json as otlp
from tests.ingest.conftest import OtlpServer

ODD_VALUES: list[dict[str, Any]] = [
    {"stringValue": ""}, {"stringValue": "x" * 5000}, {"stringValue": "NaN"}, {"intValue": "9" * 30},
    {"intValue": "-1"}, {"intValue": "abc"}, {"doubleValue": "Infinity"}, {"doubleValue": "NaN"},
    {"doubleValue": 1e308}, {"boolValue": "yes"}, {"arrayValue": {"values": [{"intValue": "1"}]}},
    {"kvlistValue": {"values": [{"key": "a", "value": {"stringValue": "b"}}]}}, {}, {"bytesValue": "%%%"},
]  # fmt: skip
ODD_TIMES = ["", "-1", "9" * 30, "abc", "0"]
TRACE_ID, SPAN_ID = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"


def exports(email: str) -> dict[str, dict[str, Any]]:
    window = (otlp.T0, otlp.T0 + 60 * otlp.NANOS)
    claude = {"service.name": "claude-code"}
    point = {"user.email": email, "session.id": "s-1", "model": "claude-opus-4-1", "type": "input"}
    request = {"user.email": email, "model": "claude-opus-4-1", "input_tokens": 10, "output_tokens": 2,
               "cache_read_tokens": 0, "cost_usd": 0.01, "duration_ms": 900}  # fmt: skip
    span = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-x",
            "gen_ai.usage.input_tokens": 30, "gen_ai.usage.output_tokens": 4, "user.email": email}  # fmt: skip
    return {
        "/v1/metrics": otlp.metrics(
            claude, otlp.sum_metric("claude_code.token.usage", [(point, 500, *window)])
        ),
        "/v1/logs": otlp.logs(claude, [("claude_code.api_request", request, otlp.T0)]),
        "/v1/traces": otlp.spans(
            {"service.name": "bot"}, [(TRACE_ID, SPAN_ID, span, otlp.T0, otlp.T0 + 10**9)]
        ),
    }


def _record(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The one data point, log record or span of a valid export built above."""
    if path == "/v1/metrics":
        return body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["dataPoints"][0]  # type: ignore[no-any-return]
    if path == "/v1/logs":
        return body["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]  # type: ignore[no-any-return]
    return body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]  # type: ignore[no-any-return]


def variants(path: str, body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(what changed, the export with it changed), one field at a time."""
    for index, attribute in enumerate(_record(path, body)["attributes"]):
        for odd in ODD_VALUES:
            changed = copy.deepcopy(body)
            _record(path, changed)["attributes"][index]["value"] = odd
            yield f"{attribute['key']}={odd}"[:60], changed
    fields = [name for name in _record(path, body) if name.endswith("UnixNano")]
    fields += {"/v1/metrics": ["asInt"], "/v1/traces": ["traceId", "spanId"]}.get(path, [])
    for name in fields:
        for odd_time in ODD_TIMES:
            changed = copy.deepcopy(body)
            _record(path, changed)[name] = odd_time
            yield f"{name}={odd_time}"[:60], changed


def test_odd_values_in_exports_are_refused_or_ignored_never_a_500(
    otlp_server: OtlpServer, people: People
) -> None:
    person = people.add(scopes=["ingest"])
    sent, wrong = 0, []
    with httpx.Client(base_url=otlp_server.url, headers=person.auth, timeout=10) as http:
        for path, body in exports(person.email).items():
            for what, variant in variants(path, body):
                answer = http.post(path, json=variant)
                sent += 1
                if answer.status_code >= 500:
                    wrong.append(f"POST {path} {what}: {answer.status_code} {answer.text[:100]}")
            assert http.post(path, json=body).status_code == 200  # and the valid export still goes in
    assert sent > 150
    assert wrong == [], "\n".join(wrong)
    assert otlp_server.usage(), "the valid exports were recorded"
