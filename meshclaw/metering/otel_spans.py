"""OTLP spans following the GenAI conventions into usage events (and tool executions into activity).

An inference span carries `gen_ai.usage.input_tokens`, which includes cache reads and writes, and
`gen_ai.usage.output_tokens`, which includes reasoning; `normalize.from_inclusive` splits them into the
exclusive buckets. The deprecated `prompt_tokens`/`completion_tokens` names are read too. A span is
identified by its trace and span ids, so a resent span counts once. Spans yield to log events of the same
user and client (`otel_signals`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from meshclaw.metering.events import ActivityEvent, UsageEvent
from meshclaw.metering.normalize import from_inclusive
from meshclaw.metering.otel_batch import (
    Mapped,
    MappingContext,
    Unattributable,
    client_of,
    safe_attributes,
    session_of,
)
from meshclaw.metering.otel_values import Attributes, attributes, count, event_id, first, from_nanos, text

_INPUT = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
_OUTPUT = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")


def _has_usage(attrs: Mapping[str, Any]) -> bool:
    return any(name in attrs for name in (*_INPUT, *_OUTPUT))


class _SpansMapper:
    def __init__(self, context: MappingContext, mapped: Mapped) -> None:
        self.context = context
        self.mapped = mapped

    def span(self, resource: Attributes, span: Span) -> None:
        attrs = attributes(span.attributes)
        usage = _has_usage(attrs)
        tool = attrs.get("gen_ai.operation.name") == "execute_tool"
        if not usage and not tool:
            return
        try:
            user_id = self.context.identify({**resource, **attrs})
        except Unattributable as exc:
            self.mapped.reject(exc.reason)
            return
        ident = event_id("span", span.trace_id.hex(), span.span_id.hex())
        client = client_of(resource)
        failed = span.status.code == Status.STATUS_CODE_ERROR
        if tool:
            duration_ms = max(0, (span.end_time_unix_nano - span.start_time_unix_nano) // 1_000_000)
            self.mapped.activities.append(
                ActivityEvent(
                    event_id=ident,
                    name="gen_ai.execute_tool",
                    occurred_at=from_nanos(span.end_time_unix_nano or span.start_time_unix_nano),
                    source="otlp",
                    user_id=user_id,
                    client=client,
                    session_id=session_of(attrs),
                    attributes={**safe_attributes(attrs), "duration_ms": duration_ms, "success": not failed},
                )
            )
            return
        if not self.context.signals.admit("span", user_id=user_id, client=client):
            return
        tokens = from_inclusive(
            input_total=count(first(attrs, *_INPUT)),
            output_total=count(first(attrs, *_OUTPUT)),
            cache_read=count(attrs.get("gen_ai.usage.cache_read.input_tokens")),
            cache_write=count(attrs.get("gen_ai.usage.cache_creation.input_tokens")),
            reasoning=count(attrs.get("gen_ai.usage.reasoning.output_tokens")),
        )
        model = text(first(attrs, "gen_ai.response.model", "gen_ai.request.model"))
        self.mapped.usage.append(
            UsageEvent(
                event_id=ident,
                source="otlp",
                started_at=from_nanos(span.start_time_unix_nano),
                ended_at=from_nanos(span.end_time_unix_nano or span.start_time_unix_nano),
                status="error" if failed else "ok",
                error=(text(attrs.get("error.type")) or "span status error")[:200] if failed else None,
                provider=text(first(attrs, "gen_ai.provider.name", "gen_ai.system"), 100),
                operation=str(attrs.get("gen_ai.operation.name") or "chat")[:40],
                requested_model=text(attrs.get("gen_ai.request.model")) or model,
                model=model,
                tokens=tokens,
                raw_usage={k: v for k, v in attrs.items() if k.startswith("gen_ai.usage.")},
                user_id=user_id,
                api_key_id=self.context.api_key_id,
                client=client,
                session_id=session_of(attrs),
                attributes={**safe_attributes(attrs), "otel.signal": "span"},
            )
        )


def map_spans(request: ExportTraceServiceRequest, context: MappingContext) -> Mapped:
    mapped = Mapped()
    mapper = _SpansMapper(context, mapped)
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                mapper.span(resource, span)
    return mapped
