"""OTLP JSON bodies built by hand, as the OTLP/HTTP spec encodes them: camelCase field names, int64
values as strings, enums as integers, trace and span ids as hex."""

from __future__ import annotations

from typing import Any

DELTA, CUMULATIVE = 1, 2
NANOS = 1_000_000_000
T0 = 1_790_000_000 * NANOS  # 2026-09-21, a fixed time for deterministic tests


def value(item: Any) -> dict[str, Any]:
    if isinstance(item, bool):
        return {"boolValue": item}
    if isinstance(item, int):
        return {"intValue": str(item)}
    if isinstance(item, float):
        return {"doubleValue": item}
    return {"stringValue": str(item)}


def attrs(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": value(item)} for key, item in mapping.items()]


def sum_metric(
    name: str, points: list[tuple[dict[str, Any], int | float, int, int]], *, temporality: int = DELTA
) -> dict[str, Any]:
    """`points`: (attributes, value, start ns, time ns)."""
    data_points = []
    for point_attrs, amount, start, end in points:
        number = {"asInt": str(amount)} if isinstance(amount, int) else {"asDouble": amount}
        data_points.append(
            {
                "attributes": attrs(point_attrs),
                "startTimeUnixNano": str(start),
                "timeUnixNano": str(end),
                **number,
            }
        )
    return {
        "name": name,
        "sum": {"dataPoints": data_points, "aggregationTemporality": temporality, "isMonotonic": True},
    }


def metrics(resource: dict[str, Any], *metric_list: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceMetrics": [
            {
                "resource": {"attributes": attrs(resource)},
                "scopeMetrics": [{"scope": {"name": "test"}, "metrics": list(metric_list)}],
            }
        ]
    }


def logs(resource: dict[str, Any], records: list[tuple[str, dict[str, Any], int]]) -> dict[str, Any]:
    """`records`: (event name, attributes, time ns)."""
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": attrs(resource)},
                "scopeLogs": [
                    {
                        "scope": {"name": "test"},
                        "logRecords": [
                            {
                                "timeUnixNano": str(at),
                                "observedTimeUnixNano": str(at),
                                "eventName": name,
                                "body": {"stringValue": name},
                                "attributes": attrs(record_attrs),
                            }
                            for name, record_attrs, at in records
                        ],
                    }
                ],
            }
        ]
    }


def spans(resource: dict[str, Any], items: list[tuple[str, str, dict[str, Any], int, int]]) -> dict[str, Any]:
    """`items`: (trace id hex, span id hex, attributes, start ns, end ns)."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": attrs(resource)},
                "scopeSpans": [
                    {
                        "scope": {"name": "test"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": span_id,
                                "name": "chat",
                                "kind": 3,
                                "startTimeUnixNano": str(start),
                                "endTimeUnixNano": str(end),
                                "attributes": attrs(span_attrs),
                            }
                            for trace_id, span_id, span_attrs, start, end in items
                        ],
                    }
                ],
            }
        ]
    }
