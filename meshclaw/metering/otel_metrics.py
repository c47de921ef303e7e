"""OTLP metrics into usage and outcome events.

Token and cost counters (Claude Code, Gemini CLI, Codex, the GenAI `gen_ai.client.token.usage`
histogram) become `UsageEvent`s with `operation="aggregate"`: one per series and time window, with the
token types of the window merged into the exclusive buckets and Claude Code's cost joined in. They yield
to per-request log events and spans of the same user and client (`otel_signals`). Commit, pull-request,
line and decision counters become `OutcomeEvent`s.

Delta points are taken as they come and identified by (series, window), so a resent export repeats ids
the writer ignores. Cumulative points are turned into increases by `otel_counters`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from meshclaw.metering.decisions import decision_quantities
from meshclaw.metering.events import OutcomeEvent, TokenBuckets, UsageEvent
from meshclaw.metering.normalize import from_inclusive
from meshclaw.metering.otel_batch import (
    Mapped,
    MappingContext,
    Unattributable,
    client_of,
    safe_attributes,
    session_of,
)
from meshclaw.metering.otel_values import Attributes, attributes, event_id, first, from_nanos, text

_DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA


def _claude(amounts: Mapping[str, float]) -> TokenBuckets:
    # Claude Code's types are already exclusive (Anthropic counts cache reads and writes apart).
    return TokenBuckets(
        input_uncached=int(amounts.get("input", 0)),
        cache_read=int(amounts.get("cacheRead", 0)),
        cache_write=int(amounts.get("cacheCreation", 0)),
        output=int(amounts.get("output", 0)),
    )


def _gemini(amounts: Mapping[str, float]) -> TokenBuckets:
    # Gemini's input includes cached content; thoughts and tool-use prompt tokens are counted apart.
    cache = int(amounts.get("cache", 0))
    return TokenBuckets(
        input_uncached=max(0, int(amounts.get("input", 0)) - cache) + int(amounts.get("tool", 0)),
        cache_read=cache,
        output=int(amounts.get("output", 0)),
        reasoning=int(amounts.get("thought", 0)),
    )


def _codex(amounts: Mapping[str, float]) -> TokenBuckets:
    # OpenAI counting: input includes cached input, output includes reasoning.
    return from_inclusive(
        input_total=int(amounts.get("input", 0)),
        output_total=int(amounts.get("output", 0)),
        cache_read=int(amounts.get("cached_input", amounts.get("cached", 0))),
        reasoning=int(amounts.get("reasoning_output", amounts.get("reasoning", 0))),
    )


def _gen_ai(amounts: Mapping[str, float]) -> TokenBuckets:
    # The histogram has only input (cache included, no breakdown) and output.
    return from_inclusive(
        input_total=int(amounts.get("input", 0)), output_total=int(amounts.get("output", 0))
    )


@dataclass(frozen=True)
class _TokenMetric:
    family: str
    type_key: str | None
    """The attribute naming the token type; None for a cost metric."""
    buckets: Callable[[Mapping[str, float]], TokenBuckets]
    has_cost_metric: bool = False
    """The tool reports its own cost in a sibling metric: that is the cost, never the price table's."""


TOKEN_METRICS: dict[str, _TokenMetric] = {
    "claude_code.token.usage": _TokenMetric("claude_code", "type", _claude, True),
    "claude_code.cost.usage": _TokenMetric("claude_code", None, _claude, True),
    "gemini_cli.token.usage": _TokenMetric("gemini_cli", "type", _gemini),
    "gen_ai.client.token.usage": _TokenMetric("gen_ai", "gen_ai.token.type", _gen_ai),
    "codex.turn.token_usage": _TokenMetric("codex", "token_type", _codex),
}


def _lines(attrs: Mapping[str, Any]) -> tuple[str, bool | None] | None:
    kind = attrs.get("type")
    return (f"lines_of_code.{kind}", None) if kind in ("added", "removed") else None


def _decision(attrs: Mapping[str, Any]) -> bool | None:
    decision = str(attrs.get("decision", "")).lower()
    if decision in ("accept", "accepted", "auto_accept", "modify"):
        return True
    if decision in ("reject", "rejected"):
        return False
    return None


def _edit_decision(attrs: Mapping[str, Any]) -> tuple[str, bool | None] | None:
    accepted = _decision(attrs)
    return ("code_edit.decided", accepted) if accepted is not None else None


def _tool_decision(attrs: Mapping[str, Any]) -> tuple[str, bool | None] | None:
    accepted = _decision(attrs)
    return ("tool_call.decided", accepted) if accepted is not None else None


OUTCOME_METRICS: dict[str, Callable[[Mapping[str, Any]], tuple[str, bool | None] | None]] = {
    "claude_code.commit.count": lambda _: ("commit.created", None),
    "claude_code.pull_request.count": lambda _: ("pull_request.created", None),
    "claude_code.lines_of_code.count": _lines,
    "gemini_cli.lines.changed": _lines,
    "claude_code.code_edit_tool.decision": _edit_decision,
    "gemini_cli.tool.call.count": _tool_decision,
}


@dataclass
class _Point:
    attrs: Attributes
    start_ns: int
    time_ns: int
    value: float
    delta: bool


def _points(metric: Metric) -> Iterator[_Point]:
    kind = metric.WhichOneof("data")
    if kind == "sum":
        delta = metric.sum.aggregation_temporality == _DELTA
        for p in metric.sum.data_points:
            value = float(p.as_int) if p.WhichOneof("value") == "as_int" else p.as_double
            yield _Point(attributes(p.attributes), p.start_time_unix_nano, p.time_unix_nano, value, delta)
    elif kind == "histogram":
        delta = metric.histogram.aggregation_temporality == _DELTA
        for h in metric.histogram.data_points:
            yield _Point(attributes(h.attributes), h.start_time_unix_nano, h.time_unix_nano, h.sum, delta)


@dataclass
class _UsageGroup:
    spec: _TokenMetric
    resource: Attributes
    attrs: Attributes
    user_id: int | None
    start_ns: int
    time_ns: int
    amounts: dict[str, float] = field(default_factory=dict)
    cost: float = 0.0
    readings: dict[str, list[float]] = field(default_factory=dict)


class _MetricsMapper:
    def __init__(self, context: MappingContext, mapped: Mapped) -> None:
        self.context = context
        self.mapped = mapped
        self.groups: dict[str, _UsageGroup] = {}

    def amount(self, series_parts: tuple[Any, ...], point: _Point, user_id: int | None) -> tuple[float, str]:
        series = event_id("series", *series_parts)
        if point.delta:
            return point.value, series
        grown = self.context.counters.increase(
            series, start_ns=point.start_ns, time_ns=point.time_ns, value=point.value, user_id=user_id
        )
        return grown, series

    def metric(self, resource: Attributes, scope: str, metric: Metric) -> None:
        token = TOKEN_METRICS.get(metric.name)
        outcome = OUTCOME_METRICS.get(metric.name)
        if token is None and outcome is None:
            return
        for point in _points(metric):
            merged = {**resource, **point.attrs}
            try:
                user_id = self.context.identify(merged)
            except Unattributable as exc:
                self.mapped.reject(exc.reason)
                continue
            amount, series = self.amount((resource, scope, metric.name, point.attrs), point, user_id)
            if token is not None:
                self.token_point(token, resource, point, user_id, amount, series)
            elif outcome is not None and amount > 0:
                self.outcome_point(outcome, metric.name, resource, point, user_id, amount, series)

    def token_point(
        self,
        spec: _TokenMetric,
        resource: Attributes,
        point: _Point,
        user_id: int | None,
        amount: float,
        series: str,
    ) -> None:
        # One event per collection: the token types and the cost of one collection share its end time
        # (cumulative instruments may each have their own start time, so the start is not in the key).
        attrs = {k: v for k, v in point.attrs.items() if k != spec.type_key}
        key = event_id("usage-group", spec.family, resource, attrs, point.time_ns)
        group = self.groups.get(key)
        if group is None:
            group = _UsageGroup(spec, resource, attrs, user_id, point.start_ns, point.time_ns)
            self.groups[key] = group
        group.start_ns = min(group.start_ns, point.start_ns) if point.start_ns else group.start_ns
        if spec.type_key is None:
            group.cost += amount
        else:
            kind = str(point.attrs.get(spec.type_key, ""))
            group.amounts[kind] = group.amounts.get(kind, 0.0) + amount
        if not point.delta:
            group.readings[series] = [point.start_ns, point.time_ns, point.value]

    def outcome_point(
        self,
        outcome: Callable[[Mapping[str, Any]], tuple[str, bool | None] | None],
        name: str,
        resource: Attributes,
        point: _Point,
        user_id: int | None,
        amount: float,
        series: str,
    ) -> None:
        decided = outcome(point.attrs)
        if decided is None:
            return
        kind, accepted = decided
        base = event_id("metric-outcome", resource, name, point.attrs, point.start_ns, point.time_ns)
        quantities = decision_quantities(amount) if accepted is not None else [amount]
        extra: dict[str, Any] = {"otel.metric": name}
        if not point.delta:
            extra["otel.cumulative"] = {series: [point.start_ns, point.time_ns, point.value]}
        for index, quantity in enumerate(quantities):
            self.mapped.outcomes.append(
                OutcomeEvent(
                    event_id=base if index == 0 else f"{base}:{index}",
                    type=kind,
                    occurred_at=from_nanos(point.time_ns),
                    source="otlp",
                    quantity=quantity,
                    accepted=accepted,
                    user_id=user_id,
                    client=client_of(resource),
                    session_id=session_of(point.attrs),
                    attributes={**safe_attributes(point.attrs), **extra},
                )
            )

    def finish(self) -> None:
        for key, group in self.groups.items():
            tokens = group.spec.buckets(group.amounts)
            if tokens.total == 0 and group.cost <= 0:
                continue
            client = client_of(group.resource)
            if not self.context.signals.admit("metric", user_id=group.user_id, client=client):
                continue
            model = text(first(group.attrs, "model", "gen_ai.response.model", "gen_ai.request.model"))
            extra: dict[str, Any] = {"otel.signal": "metric"}
            if group.readings:
                extra["otel.cumulative"] = group.readings
            self.mapped.usage.append(
                UsageEvent(
                    event_id=key,
                    source="otlp",
                    started_at=from_nanos(group.start_ns or group.time_ns),
                    ended_at=from_nanos(group.time_ns),
                    provider=text(first(group.attrs, "gen_ai.provider.name", "gen_ai.system"), 100),
                    operation="aggregate",
                    requested_model=text(group.attrs.get("gen_ai.request.model")) or model,
                    model=model,
                    tokens=tokens,
                    raw_usage={"family": group.spec.family, **group.amounts},
                    cost_usd=group.cost if group.spec.has_cost_metric else None,
                    user_id=group.user_id,
                    api_key_id=self.context.api_key_id,
                    client=client,
                    session_id=session_of(group.attrs),
                    attributes={**safe_attributes(group.attrs), **extra},
                )
            )


def map_metrics(request: ExportMetricsServiceRequest, context: MappingContext) -> Mapped:
    mapped = Mapped()
    mapper = _MetricsMapper(context, mapped)
    for resource_metrics in request.resource_metrics:
        resource = attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                mapper.metric(resource, scope_metrics.scope.name, metric)
    mapper.finish()
    return mapped
