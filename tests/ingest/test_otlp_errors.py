"""Bad requests to the OTLP receivers: missing, wrong or under-scoped keys, malformed protobuf and JSON,
corrupt or oversized gzip, unsupported media types. Each gets a clear 4xx and records nothing."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from tests.conftest import People
from tests.ingest import otlp_json as otlp
from tests.ingest.conftest import OtlpServer

PROTOBUF = {"content-type": "application/x-protobuf"}


def commit_export(email: str) -> dict[str, Any]:
    window = (otlp.T0, otlp.T0 + 60 * otlp.NANOS)
    return otlp.metrics(
        {"service.name": "claude-code"},
        otlp.sum_metric("claude_code.commit.count", [({"user.email": email}, 3, *window)]),
    )


def protobuf_export(email: str) -> bytes:
    message = ExportMetricsServiceRequest()
    json_format.ParseDict(commit_export(email), message)
    serialized: bytes = message.SerializeToString()
    return serialized


def test_keys_are_required_and_need_the_ingest_scope(otlp_server: OtlpServer, people: People) -> None:
    person = people.add(scopes=["ingest"])
    gateway_only = people.add(scopes=["gateway"])
    url = f"{otlp_server.url}/v1/metrics"
    body = commit_export(person.email)
    missing = httpx.post(url, json=body)
    assert missing.status_code == 401
    assert "OTEL_EXPORTER_OTLP_HEADERS" in missing.json()["message"]
    assert missing.json()["code"] == 16  # google.rpc.Code UNAUTHENTICATED
    wrong = httpx.post(url, json=body, headers={"x-api-key": "mc_nope_nope"})
    assert wrong.status_code == 401
    scoped_out = httpx.post(url, json=body, headers=gateway_only.auth)
    assert scoped_out.status_code == 403
    assert "ingest scope" in scoped_out.json()["message"]
    # A protobuf request gets its error as a protobuf google.rpc.Status: code 16, then the message.
    answer = httpx.post(url, content=protobuf_export(person.email), headers=PROTOBUF)
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/x-protobuf"
    assert answer.content.startswith(b"\x08\x10\x12")
    assert otlp_server.outcomes() == []
    # The right key works through either header an exporter can set.
    assert httpx.post(url, json=body, headers={"x-api-key": person.key}).status_code == 200
    assert [row.quantity for row in otlp_server.outcomes()] == [3]


@pytest.mark.parametrize(
    ("content", "headers", "status", "says"),
    [
        (b"\xff\xff\xff\xff", PROTOBUF, 400, "not a valid OTLP protobuf"),
        (b"{not json", {"content-type": "application/json"}, 400, "not valid JSON"),
        (b"[1, 2]", {"content-type": "application/json"}, 400, "must be an object"),
        (
            b'{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": 7, "sum": "x"}]}]}]}',
            {"content-type": "application/json"},
            400,
            "not a valid OTLP message",
        ),
        (b"\x1f\x8b\x08\x00garbage", {**PROTOBUF, "content-encoding": "gzip"}, 400, "gzip"),
        (b"{}", {"content-type": "text/plain"}, 415, "application/x-protobuf"),
        (b"{}", {"content-type": "application/json", "content-encoding": "br"}, 415, "gzip"),
        # Within orjson's 1,024 levels but past Python's recursion limit in the walk that converts hex ids.
        (
            b'{"resourceMetrics": ' + b"[" * 1000 + b"]" * 1000 + b"}",
            {"content-type": "application/json"},
            400,
            "nested too deeply",
        ),
    ],
    ids=["protobuf", "json", "json-array", "json-shape", "gzip", "media-type", "encoding", "json-deep"],
)
def test_malformed_payloads_are_4xx_and_record_nothing(
    otlp_server: OtlpServer, people: People, content: bytes, headers: dict[str, str], status: int, says: str
) -> None:
    person = people.add(scopes=["ingest"])
    answer = httpx.post(f"{otlp_server.url}/v1/metrics", content=content, headers={**headers, **person.auth})
    assert answer.status_code == status
    if answer.headers["content-type"] == "application/json":
        assert says in answer.json()["message"]
    else:
        assert says.encode() in answer.content
    assert otlp_server.outcomes() == [] and otlp_server.usage() == []


def test_bad_hex_ids_are_400(otlp_server: OtlpServer, people: People) -> None:
    person = people.add(scopes=["ingest"])
    usage = {"gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 1}
    good = ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", usage, otlp.T0, otlp.T0 + 1)
    bad = ("not-hex", "b7ad6b7169203332", usage, otlp.T0, otlp.T0 + 1)
    body = otlp.spans({"service.name": "app"}, [good, bad])
    answer = httpx.post(f"{otlp_server.url}/v1/traces", json=body, headers=person.auth)
    assert answer.status_code == 400 and "traceId" in answer.json()["message"]
    assert otlp_server.usage() == []  # the good span of the same payload was not recorded either


@pytest.fixture
def server_settings() -> dict[str, Any]:
    return {"max_body_bytes": 4096}


def test_oversized_bodies_are_413(otlp_server: OtlpServer, people: People) -> None:
    person = people.add(scopes=["ingest"])
    url = f"{otlp_server.url}/v1/metrics"
    many = commit_export(person.email)
    points = many["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["dataPoints"]
    many["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["dataPoints"] = points * 200
    raw = json_format.MessageToJson(json_format.ParseDict(many, ExportMetricsServiceRequest())).encode()
    assert len(raw) > 4096
    assert (
        httpx.post(url, content=raw, headers={"content-type": "application/json", **person.auth}).status_code
        == 413
    )
    # Small on the wire, too big once inflated: refused after decompression, not by Content-Length.
    compressed = gzip.compress(raw)
    assert len(compressed) < 4096
    bomb = httpx.post(
        url,
        content=compressed,
        headers={"content-type": "application/json", "content-encoding": "gzip", **person.auth},
    )
    assert bomb.status_code == 413 and "decompressed" in bomb.json()["message"]
    # The same export, small enough, is accepted gzip-compressed.
    small = gzip.compress(protobuf_export(person.email))
    ok = httpx.post(url, content=small, headers={**PROTOBUF, "content-encoding": "gzip", **person.auth})
    assert ok.status_code == 200
    assert [row.quantity for row in otlp_server.outcomes()] == [3]
