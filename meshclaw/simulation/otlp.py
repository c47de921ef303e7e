"""Claude Code users' days as the OTLP exports Claude Code sends, mapped by metering's OTLP mappers.

Per person and day: one logs export (`user_prompt` with its length, `api_request` with exact tokens and
cost, `api_error` with the retry attempt, `tool_result` per tool call, `tool_decision` per edit decision,
each with `session.id` and `app.entrypoint`: `cli` when typed interactively, `sdk-py` when scripted) and
one metrics export of delta counters (commits, pull requests, lines, edit decisions). Each export is
serialized to OTLP protobuf bytes and parsed back, as it travels, then handed to `map_logs` and
`map_metrics`, the functions behind `POST /v1/logs` and `/v1/metrics`. The receivers' HTTP layer
(authentication, Content-Type, gzip) is the one part not exercised here: it sits in the interface layer
above this package.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from meshclaw.metering.otel_batch import Mapped, MappingContext, Unattributable
from meshclaw.metering.otel_counters import CumulativeCounters
from meshclaw.metering.otel_logs import map_logs
from meshclaw.metering.otel_metrics import map_metrics
from meshclaw.metering.otel_signals import UsageSignals
from meshclaw.simulation.org import SimPerson
from meshclaw.simulation.plan import Call, DayPlan

SERVICE = "claude-code"
VERSION = "2.0.14"
NANOS = 1_000_000_000
ERRORS = {429: "Rate limited", 500: "Internal server error", 529: "Overloaded", 408: "Request timed out"}


def _fill(target: Any, mapping: Mapping[str, Any]) -> None:
    """Append `mapping` to a repeated KeyValue field in place (about twice as fast as building
    KeyValue and AnyValue objects and copying them in)."""
    add = target.add
    for key, item in mapping.items():
        value = add(key=key).value
        if isinstance(item, bool):
            value.bool_value = item
        elif isinstance(item, int):
            value.int_value = item
        elif isinstance(item, float):
            value.double_value = item
        else:
            value.string_value = str(item)


def _nanos(at: datetime) -> int:
    return int(at.timestamp() * NANOS)


class ClaudeCodeExporter:
    """Builds one person's daily exports. `event.sequence` numbers records as Claude Code does, which
    also keeps records with otherwise equal attributes apart."""

    def __init__(self, person: SimPerson, rng: random.Random) -> None:
        self.person = person
        self.rng = rng
        self.sequence = 0
        self.entrypoint = "sdk-py" if person.headless else "cli"
        self.resource = {"service.name": SERVICE, "service.version": VERSION, "user.email": person.email,
                         "os.type": "linux", "host.arch": "amd64"}  # fmt: skip
        self.records: Any = None
        """The log records of the export being built (a protobuf repeated field)."""

    def _record(self, name: str, at: datetime, attrs: dict[str, Any]) -> None:
        self.sequence += 1
        nanos = _nanos(at)
        record = self.records.add(time_unix_nano=nanos, observed_time_unix_nano=nanos)
        record.body.string_value = f"claude_code.{name}"
        _fill(record.attributes, {
            "event.name": name, "event.timestamp": at.isoformat(), "event.sequence": self.sequence,
            "session.id": attrs.pop("session.id"), "app.entrypoint": self.entrypoint,
            "terminal.type": "non-interactive" if self.person.headless else "vscode", **attrs})  # fmt: skip

    def _call_records(self, call: Call, prompt_id: str) -> None:
        rng = self.rng
        end = call.start + timedelta(milliseconds=call.duration_ms)
        common = {"session.id": call.session, "prompt.id": prompt_id}
        if call.prompt:
            # Only the length travels (Claude Code sends prompt text only when OTEL_LOG_USER_PROMPTS=1).
            length = len(call.prompt) * rng.randint(2, 12)
            self._record(
                "user_prompt", call.start - timedelta(seconds=1), {**common, "prompt_length": length}
            )
        if not call.ok:
            self._record("api_error", end, {
                **common, "model": call.model.name, "error": ERRORS.get(call.status_code, "API error"),
                "status_code": call.status_code, "attempt": call.attempt, "duration_ms": call.duration_ms})  # fmt: skip
            return
        self._record("api_request", end, {
            **common, "model": call.model.name, "input_tokens": call.uncached, "output_tokens": call.output,
            "cache_read_tokens": call.cache_read, "cache_creation_tokens": call.cache_write,
            "cost_usd": round(call.cost_usd, 6), "duration_ms": call.duration_ms, "query_source": "main",
            "effort": "medium"})  # fmt: skip
        self._record("tool_result", end + timedelta(seconds=rng.uniform(0.2, 3)), {
            **common, "tool_name": call.tool_name, "success": rng.random() > 0.04,
            "duration_ms": rng.randint(20, 4000), "tool_result_size_bytes": rng.randint(200, 60_000),
            "decision_source": "config"})  # fmt: skip

    def logs(self, plan: DayPlan) -> ExportLogsServiceRequest:
        rng = self.rng
        request = ExportLogsServiceRequest()
        resource_logs = request.resource_logs.add()
        _fill(resource_logs.resource.attributes, self.resource)
        scope = resource_logs.scope_logs.add()
        scope.scope.name = "com.anthropic.claude_code.events"
        self.records = scope.log_records
        prompt_id = ""
        for call in plan.calls:
            if call.prompt or not prompt_id:
                prompt_id = f"{rng.getrandbits(64):016x}"
            self._call_records(call, prompt_id)
        ok_calls = [call for call in plan.calls if call.ok]
        for decision, count in (("accept", plan.edits_accepted), ("reject", plan.edits_rejected)):
            for _ in range(count if ok_calls else 0):
                call = rng.choice(ok_calls)
                at = call.start + timedelta(milliseconds=call.duration_ms, seconds=rng.uniform(1, 30))
                self._record("tool_decision", at, {
                    "session.id": call.session, "tool_name": rng.choice(("Edit", "Write", "MultiEdit")),
                    "decision": decision, "source": "user_temporary" if decision == "accept" else "user_reject"})  # fmt: skip
        self.records = None
        return request

    def metrics(self, plan: DayPlan, day: date, end: datetime) -> ExportMetricsServiceRequest | None:
        """The day's outcome counters as one delta collection (Claude Code exports every minute; one
        window per day keeps the simulation fast and counts the same)."""
        start = datetime(day.year, day.month, day.day, tzinfo=end.tzinfo)
        language = self.rng.choice(("Python", "TypeScript", "Go", "Java"))
        series: list[tuple[str, dict[str, Any], int]] = [
            ("claude_code.commit.count", {}, plan.commits),
            ("claude_code.pull_request.count", {}, plan.prs),
            ("claude_code.lines_of_code.count", {"type": "added"}, plan.lines_added),
            ("claude_code.lines_of_code.count", {"type": "removed"}, plan.lines_removed),
            ("claude_code.code_edit_tool.decision", {"tool_name": "Edit", "decision": "accept",
                                                     "source": "user_temporary", "language": language},
             plan.edits_accepted),
            ("claude_code.code_edit_tool.decision", {"tool_name": "Edit", "decision": "reject",
                                                     "source": "user_reject", "language": language},
             plan.edits_rejected),
        ]  # fmt: skip
        metrics: dict[str, Metric] = {}
        for name, attrs, amount in series:
            if amount <= 0:
                continue
            metric = metrics.get(name)
            if metric is None:
                metric = metrics[name] = Metric(name=name, unit="count")
                metric.sum.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
                metric.sum.is_monotonic = True
            point = metric.sum.data_points.add(
                start_time_unix_nano=_nanos(start), time_unix_nano=_nanos(end), as_int=amount
            )
            _fill(point.attributes, attrs)
        if not metrics:
            return None
        request = ExportMetricsServiceRequest()
        resource_metrics = request.resource_metrics.add()
        _fill(resource_metrics.resource.attributes, self.resource)
        scope = resource_metrics.scope_metrics.add()
        scope.scope.name = "com.anthropic.claude_code"
        scope.metrics.extend(metrics.values())
        return request


class OtlpMapping:
    """What the OTLP receivers give the mappers, for a simulation: people are known by email (the
    simulation imported them), and the counter and signal memories are this run's."""

    def __init__(self, user_ids: Mapping[str, int]) -> None:
        self.user_ids = user_ids
        self.context = MappingContext(
            identify=self.identify, counters=CumulativeCounters(), signals=UsageSignals()
        )

    def identify(self, attrs: Mapping[str, Any]) -> int | None:
        email = str(attrs.get("user.email", "")).lower()
        user_id = self.user_ids.get(email)
        if user_id is None:
            raise Unattributable(f"no MeshClaw user has the email {email}")
        return user_id

    def logs(self, request: ExportLogsServiceRequest) -> Mapped:
        wire = request.SerializeToString()
        return map_logs(ExportLogsServiceRequest.FromString(wire), self.context)

    def metrics(self, request: ExportMetricsServiceRequest) -> Mapped:
        wire = request.SerializeToString()
        return map_metrics(ExportMetricsServiceRequest.FromString(wire), self.context)
