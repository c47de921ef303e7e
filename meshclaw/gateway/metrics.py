"""Prometheus series for gateway calls. The gateway's paths bypass the server's metrics middleware (it
sits behind FastAPI), so the gateway counts its own calls, in the server's registry, by API and status."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        # Never the process-wide default registry: tests build many apps in one process.
        registry = registry if registry is not None else CollectorRegistry()
        self.calls = Counter(
            "meshclaw_gateway_calls",
            "Model calls answered by the gateway, by API and HTTP status",
            ["api", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "meshclaw_gateway_call_duration_seconds",
            "Time from request to the end of the answer (streams: to the last event)",
            ["api"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )

    def observe(self, api: str, status: int, seconds: float) -> None:
        self.calls.labels(api, str(status)).inc()
        self.latency.labels(api).observe(seconds)
