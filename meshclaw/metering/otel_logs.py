"""OTLP log records (the events of Claude Code, Codex and Gemini CLI) into usage and activity events.

Per-request events carry the exact tokens of one model call and win over the same tool's aggregated
token metrics (`otel_signals`):
- `claude_code.api_request`: Anthropic counting, input already excludes cache reads and writes; the
  event's own `cost_usd` is the cost.
- `codex.sse_event` (the `response.completed` event with token counts): OpenAI counting, input includes
  cached tokens and output includes reasoning.
- `gemini_cli.api_response`: Gemini counting, input includes cached content; thoughts and tool-use
  prompt tokens are counted apart.
API errors become failed usage events without tokens. Other events of these tools (tool results and
decisions, prompt lengths, compactions…) become activity events with their safe attributes: never
prompt text, tool parameters or request/response bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from meshclaw.metering.events import ActivityEvent, Status, TokenBuckets, UsageEvent
from meshclaw.metering.normalize import from_inclusive
from meshclaw.metering.otel_batch import (
    Mapped,
    MappingContext,
    Unattributable,
    client_of,
    safe_attributes,
    session_of,
)
from meshclaw.metering.otel_values import (
    Attributes,
    any_value,
    attributes,
    count,
    event_id,
    from_nanos,
    number,
    text,
)

TOOL_PREFIXES = ("claude_code.", "codex.", "gemini_cli.", "gen_ai.")
_SERVICE_PREFIX = {"claude-code": "claude_code.", "gemini-cli": "gemini_cli."}
_ERROR_EVENTS = frozenset({"claude_code.api_error", "gemini_cli.api_error"})


def event_name(record: LogRecord, attrs: Mapping[str, Any], resource: Mapping[str, Any]) -> str | None:
    """The event's full name. Tools put it in `event_name`, in the `event.name` attribute or in the body,
    sometimes without their prefix (Claude Code's `event.name` is `api_request`)."""
    body = any_value(record.body) if record.HasField("body") else None
    for candidate in (record.event_name, attrs.get("event.name"), body):
        if isinstance(candidate, str) and candidate.startswith(TOOL_PREFIXES):
            return candidate
    short = record.event_name or attrs.get("event.name")
    if isinstance(short, str) and short:
        service = str(resource.get("service.name", ""))
        prefix = _SERVICE_PREFIX.get(service) or ("codex." if service.startswith("codex") else None)
        if prefix:
            return prefix + short
    return None


def _tokens(name: str, attrs: Mapping[str, Any]) -> TokenBuckets | None:
    if name == "claude_code.api_request":
        return TokenBuckets(
            input_uncached=count(attrs.get("input_tokens")),
            cache_read=count(attrs.get("cache_read_tokens")),
            cache_write=count(attrs.get("cache_creation_tokens")),
            output=count(attrs.get("output_tokens")),
        )
    if name == "codex.sse_event" and ("input_token_count" in attrs or "output_token_count" in attrs):
        return from_inclusive(
            input_total=count(attrs.get("input_token_count")),
            output_total=count(attrs.get("output_token_count")),
            cache_read=count(attrs.get("cached_token_count")),
            reasoning=count(attrs.get("reasoning_token_count")),
        )
    if name == "gemini_cli.api_response":
        cached = count(attrs.get("cached_content_token_count"))
        return TokenBuckets(
            input_uncached=max(0, count(attrs.get("input_token_count")) - cached)
            + count(attrs.get("tool_token_count")),
            cache_read=cached,
            output=count(attrs.get("output_token_count")),
            reasoning=count(attrs.get("thoughts_token_count")),
        )
    return None


def _status(name: str, attrs: Mapping[str, Any]) -> tuple[Status, str | None]:
    code = number(attrs.get("status_code"))
    if name in _ERROR_EVENTS or (code is not None and code >= 400) or attrs.get("success") is False:
        return "error", f"upstream status {int(code)}" if code is not None else "api error"
    return "ok", None


class _LogsMapper:
    def __init__(self, context: MappingContext, mapped: Mapped) -> None:
        self.context = context
        self.mapped = mapped

    def record(self, resource: Attributes, record: LogRecord) -> None:
        attrs = attributes(record.attributes)
        name = event_name(record, attrs, resource)
        if name is None or "body" in name:
            return  # not an AI tool's event, or an opt-in request/response body we never keep
        try:
            user_id = self.context.identify({**resource, **attrs})
        except Unattributable as exc:
            self.mapped.reject(exc.reason)
            return
        time_ns = record.time_unix_nano or record.observed_time_unix_nano
        ident = event_id("log", resource, name, attrs, time_ns)
        client = client_of(resource)
        tokens = _tokens(name, attrs)
        if tokens is not None or name in _ERROR_EVENTS:
            if self.context.signals.admit("log", user_id=user_id, client=client):
                self.usage(ident, name, attrs, time_ns, user_id, client, tokens or TokenBuckets())
            return
        self.mapped.activities.append(
            ActivityEvent(
                event_id=ident,
                name=name[:100],
                occurred_at=from_nanos(time_ns),
                source="otlp",
                user_id=user_id,
                client=client,
                session_id=session_of(attrs),
                attributes=safe_attributes(attrs),
            )
        )

    def usage(
        self,
        ident: str,
        name: str,
        attrs: Attributes,
        time_ns: int,
        user_id: int | None,
        client: str | None,
        tokens: TokenBuckets,
    ) -> None:
        ended = from_nanos(time_ns)
        duration = number(attrs.get("duration_ms")) or 0.0
        status, error = _status(name, attrs)
        cost = number(attrs.get("cost_usd"))
        model = text(attrs.get("model"))
        self.mapped.usage.append(
            UsageEvent(
                event_id=ident,
                source="otlp",
                started_at=ended - timedelta(milliseconds=min(max(0.0, duration), _LONGEST_CALL_MS)),
                ended_at=ended,
                status=status,
                error=error,
                provider=_PROVIDER.get(name.split(".", 1)[0]),
                operation="chat",
                requested_model=model,
                model=model,
                tokens=tokens,
                raw_usage={k: v for k, v in attrs.items() if "token" in k or k == "cost_usd"},
                cost_usd=cost if name.startswith("claude_code.") else None,
                user_id=user_id,
                api_key_id=self.context.api_key_id,
                client=client,
                session_id=session_of(attrs),
                attributes={**safe_attributes(attrs), "otel.event": name, "otel.signal": "log"},
            )
        )


_PROVIDER = {"claude_code": "anthropic", "codex": "openai", "gemini_cli": "gcp.gen_ai"}
_LONGEST_CALL_MS = 86_400_000.0
"""A reported duration past a day is no model call's (a bug or a hostile exporter): taken as a day, where
1e308 ms made the start time overflow and failed the whole export."""


def map_logs(request: ExportLogsServiceRequest, context: MappingContext) -> Mapped:
    mapped = Mapped()
    mapper = _LogsMapper(context, mapped)
    for resource_logs in request.resource_logs:
        resource = attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                mapper.record(resource, record)
    return mapped
