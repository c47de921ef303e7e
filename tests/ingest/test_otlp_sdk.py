"""The real opentelemetry-sdk OTLP/HTTP exporters against a live server: Claude-Code-shaped metrics and
events, GenAI spans, both temporalities, gzip; the rows they produce."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from tests.conftest import People, Person
from tests.ingest.conftest import OtlpServer

CLAUDE = Resource.create({"service.name": "claude-code", "service.version": "2.1.0"})
DELTA = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}
CUMULATIVE = {Counter: AggregationTemporality.CUMULATIVE, Histogram: AggregationTemporality.CUMULATIVE}


def meter_provider(
    server: OtlpServer, person: Person, temporality: dict[type, AggregationTemporality], resource: Resource
) -> MeterProvider:
    exporter = OTLPMetricExporter(
        endpoint=f"{server.url}/v1/metrics",
        headers={"Authorization": f"Bearer {person.key}"},
        preferred_temporality=temporality,
    )
    # A huge interval: the test exports explicitly with force_flush.
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    return MeterProvider(metric_readers=[reader], resource=resource)


@pytest.fixture
def member(people: People) -> Person:
    return people.add(email="dev@example.org", scopes=["ingest"])


def claude_point(person: Person, **more: str) -> dict[str, str]:
    return {"session.id": "s-1", "user.email": person.email, "model": "claude-sonnet-4-5", **more}


@pytest.mark.parametrize("temporality", [DELTA, CUMULATIVE], ids=["delta", "cumulative"])
def test_claude_code_metrics_become_usage_and_outcomes(
    otlp_server: OtlpServer, member: Person, temporality: dict[type, AggregationTemporality]
) -> None:
    provider = meter_provider(otlp_server, member, temporality, CLAUDE)
    meter = provider.get_meter("com.anthropic.claude_code")
    tokens = meter.create_counter("claude_code.token.usage", unit="tokens")
    cost = meter.create_counter("claude_code.cost.usage", unit="USD")
    commits = meter.create_counter("claude_code.commit.count")
    lines = meter.create_counter("claude_code.lines_of_code.count")
    decisions = meter.create_counter("claude_code.code_edit_tool.decision")
    attrs = claude_point(member)
    tokens.add(1200, {**attrs, "type": "input"})
    tokens.add(300, {**attrs, "type": "output"})
    tokens.add(5000, {**attrs, "type": "cacheRead"})
    tokens.add(700, {**attrs, "type": "cacheCreation"})
    cost.add(0.25, attrs)
    commits.add(1, attrs)
    lines.add(40, {**attrs, "type": "added"})
    lines.add(5, {**attrs, "type": "removed"})
    decisions.add(2, {**attrs, "tool_name": "Edit", "decision": "accept", "source": "user_temporary"})
    decisions.add(1, {**attrs, "tool_name": "Write", "decision": "reject", "source": "user_reject"})
    assert provider.force_flush()
    # Nothing new happens, and the exporter exports again: cumulative repeats, delta sends nothing new.
    assert provider.force_flush()
    tokens.add(100, {**attrs, "type": "output"})
    cost.add(0.01, attrs)
    assert provider.force_flush()
    provider.shutdown()

    usage = otlp_server.usage()
    assert {row.operation for row in usage} == {"aggregate"}
    assert sum(row.input_uncached for row in usage) == 1200
    assert sum(row.output for row in usage) == 400
    assert sum(row.cache_read for row in usage) == 5000
    assert sum(row.cache_write for row in usage) == 700
    assert sum(row.cost_microusd for row in usage) == 260_000
    assert {row.user_id for row in usage} == {member.id}
    assert {row.client for row in usage} == {"claude-code"}
    assert {row.model for row in usage} == {"claude-sonnet-4-5"}
    assert {row.session_id for row in usage} == {"s-1"}

    outcomes = otlp_server.outcomes()
    by_type: dict[str, float] = {}
    for row in outcomes:
        by_type[row.type] = by_type.get(row.type, 0) + row.quantity
    assert by_type == {
        "commit.created": 1,
        "lines_of_code.added": 40,
        "lines_of_code.removed": 5,
        "code_edit.decided": 3,
    }
    decided = [row.accepted for row in outcomes if row.type == "code_edit.decided"]
    assert sorted(decided) == [False, True, True]
    assert all(row.source == "otlp" and row.user_id == member.id for row in outcomes)


@pytest.fixture
def logger_provider(otlp_server: OtlpServer, member: Person) -> Iterator[LoggerProvider]:
    exporter = OTLPLogExporter(
        endpoint=f"{otlp_server.url}/v1/logs",
        headers={"x-api-key": member.key},
        compression=Compression.Gzip,
    )
    provider = LoggerProvider(resource=CLAUDE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    yield provider
    provider.shutdown()


def api_request(person: Person, request_id: str, sequence: int) -> dict[str, str | int]:
    # Claude Code sends its event attributes as strings.
    return {
        **claude_point(person),
        "event.name": "api_request",
        "event.sequence": sequence,
        "request_id": request_id,
        "input_tokens": "120",
        "output_tokens": "80",
        "cache_read_tokens": "4000",
        "cache_creation_tokens": "500",
        "cost_usd": "0.0123",
        "duration_ms": "2300",
        "query_source": "main",
    }


def test_claude_code_events_over_gzip(
    otlp_server: OtlpServer, member: Person, logger_provider: LoggerProvider
) -> None:
    logger = logger_provider.get_logger("com.anthropic.claude_code.events")
    logger.emit(body="claude_code.api_request", attributes=api_request(member, "req_1", 1))
    prompt = {
        **claude_point(member),
        "event.name": "user_prompt",
        "prompt_length": "42",
        "prompt": "please refactor the secret module",
    }
    logger.emit(body="claude_code.user_prompt", attributes=prompt)
    tool = {
        **claude_point(member),
        "event.name": "tool_result",
        "tool_name": "Bash",
        "success": "true",
        "duration_ms": "1500",
        "tool_parameters": '{"command": "cat secrets.txt"}',
    }
    logger.emit(body="claude_code.tool_result", attributes=tool)
    assert logger_provider.force_flush()

    [usage] = otlp_server.usage()
    assert (usage.input_uncached, usage.cache_read, usage.cache_write, usage.output) == (120, 4000, 500, 80)
    assert usage.cost_microusd == 12_300
    assert usage.latency_ms == 2300
    assert usage.operation == "chat" and usage.provider == "anthropic"
    activities = {row.name: row for row in otlp_server.activities()}
    assert set(activities) == {"claude_code.user_prompt", "claude_code.tool_result"}
    assert activities["claude_code.user_prompt"].attributes["prompt_length"] == 42
    assert "prompt" not in activities["claude_code.user_prompt"].attributes
    assert "tool_parameters" not in activities["claude_code.tool_result"].attributes
    assert activities["claude_code.tool_result"].attributes["tool_name"] == "Bash"


def test_events_win_over_token_metrics_for_the_same_client(
    otlp_server: OtlpServer, member: Person, logger_provider: LoggerProvider
) -> None:
    """Claude Code reports each call as an api_request event and in its token counters: count it once."""
    logger = logger_provider.get_logger("com.anthropic.claude_code.events")
    logger.emit(body="claude_code.api_request", attributes=api_request(member, "req_1", 1))
    assert logger_provider.force_flush()
    provider = meter_provider(otlp_server, member, DELTA, CLAUDE)
    tokens = provider.get_meter("com.anthropic.claude_code").create_counter("claude_code.token.usage")
    tokens.add(120, {**claude_point(member), "type": "input"})
    tokens.add(80, {**claude_point(member), "type": "output"})
    assert provider.force_flush()
    provider.shutdown()

    usage = otlp_server.usage()
    assert len(usage) == 1
    assert (usage[0].operation, usage[0].input_uncached, usage[0].output) == ("chat", 120, 80)


def test_genai_spans_and_histograms(otlp_server: OtlpServer, member: Person) -> None:
    resource = Resource.create({"service.name": "travel-agent", "user.email": member.email})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        SimpleSpanProcessor(
            OTLPSpanExporter(
                endpoint=f"{otlp_server.url}/v1/traces", headers={"Authorization": f"Bearer {member.key}"}
            )
        )
    )
    tracer = tracer_provider.get_tracer("genai-app")
    with tracer.start_as_current_span("chat gpt-4.1", kind=SpanKind.CLIENT) as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4.1",
                "gen_ai.response.model": "gpt-4.1-2025-04-14",
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.cache_read.input_tokens": 600,
                "gen_ai.usage.output_tokens": 250,
                "gen_ai.usage.reasoning.output_tokens": 50,
            }
        )
    with tracer.start_as_current_span("execute_tool get_weather") as span:
        span.set_attributes({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather"})
    assert tracer_provider.force_flush()
    tracer_provider.shutdown()

    [usage] = otlp_server.usage()
    assert (usage.input_uncached, usage.cache_read, usage.output, usage.reasoning) == (400, 600, 200, 50)
    assert (usage.provider, usage.requested_model, usage.model) == ("openai", "gpt-4.1", "gpt-4.1-2025-04-14")
    assert usage.user_id == member.id and usage.client == "travel-agent"
    [tool] = otlp_server.activities()
    assert tool.name == "gen_ai.execute_tool" and tool.attributes["gen_ai.tool.name"] == "get_weather"

    # The same app's token histogram is aggregated usage of calls its spans already reported.
    provider = meter_provider(otlp_server, member, CUMULATIVE, resource)
    histogram = provider.get_meter("genai-app").create_histogram("gen_ai.client.token.usage")
    histogram.record(1000, {"gen_ai.token.type": "input", "gen_ai.operation.name": "chat"})
    assert provider.force_flush()
    provider.shutdown()
    assert len(otlp_server.usage()) == 1


@pytest.mark.parametrize("temporality", [DELTA, CUMULATIVE], ids=["delta", "cumulative"])
def test_genai_histogram_alone_is_metered(
    otlp_server: OtlpServer, member: Person, temporality: dict[type, AggregationTemporality]
) -> None:
    resource = Resource.create({"service.name": "batch-summarizer"})
    provider = meter_provider(otlp_server, member, temporality, resource)
    histogram = provider.get_meter("genai-app").create_histogram("gen_ai.client.token.usage", unit="{token}")
    common = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4.1",
    }
    histogram.record(900, {**common, "gen_ai.token.type": "input"})
    histogram.record(100, {**common, "gen_ai.token.type": "input"})
    histogram.record(300, {**common, "gen_ai.token.type": "output"})
    assert provider.force_flush()
    assert provider.force_flush()
    histogram.record(50, {**common, "gen_ai.token.type": "output"})
    assert provider.force_flush()
    provider.shutdown()

    usage = otlp_server.usage()
    assert sum(row.input_uncached for row in usage) == 1000
    assert sum(row.output for row in usage) == 350
    assert {row.user_id for row in usage} == {member.id}  # no user.email: the key's owner
    assert {row.model for row in usage} == {"gpt-4.1"}
