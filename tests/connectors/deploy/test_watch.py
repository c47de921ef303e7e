"""Watch verdicts besides the blue/green acceptance test: an unhealthy health URL, Prometheus that cannot
be reached (inconclusive, never healthy), a query Prometheus refuses, nothing configured."""

from __future__ import annotations

import socket

import pytest

from meshclaw.connectors.deploy.config import WatchConfig
from meshclaw.connectors.deploy.watch import watch_release
from meshclaw.tools.registry import ToolError
from tests.connectors.deploy.conftest import run
from tests.connectors.deploy.contract_server import Reply, contract_server
from tests.servers.deploy import BlueGreen

RELEASE = {"service": "web", "environment": "production", "version": "3.0.0"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_a_failing_health_url_regresses_after_consecutive_breaches() -> None:
    answers = iter([Reply(200, {"version": "3.0.0"}), Reply(503), Reply(200, {"version": "3.0.0"}),
                    Reply(503), Reply(503), Reply(503)])  # fmt: skip
    with contract_server() as server:
        server.on("GET", "/health", lambda _request: next(answers))
        config = WatchConfig(health={"production": server.url + "/health"}, interval_seconds=0.05,
                             consecutive_breaches=3, window_seconds=30)  # fmt: skip
        verdict = run(watch_release(config, **RELEASE))
    assert (verdict.status, verdict.failing_check, verdict.value) == ("regressed", "health", 503.0)
    assert verdict.samples["health"] == [200.0, 503.0, 200.0, 503.0, 503.0, 503.0]


def test_a_health_url_reporting_another_version_breaches() -> None:
    with contract_server() as server:
        server.on("GET", "/health", Reply(200, {"version": "2.9.9"}))
        config = WatchConfig(health={"production": server.url + "/health"}, interval_seconds=0.05,
                             consecutive_breaches=2, window_seconds=30)  # fmt: skip
        verdict = run(watch_release(config, **RELEASE))
    assert verdict.status == "regressed" and "2.9.9" in verdict.detail


def test_unreachable_prometheus_is_inconclusive_not_healthy() -> None:
    config = WatchConfig.model_validate(
        {"prometheus": f"http://127.0.0.1:{closed_port()}", "window_seconds": 0.3, "interval_seconds": 0.1,
         "checks": [{"name": "error_rate", "query": 'vector(0) * on() group_left() up{version="{version}"}', "max": 0.1}]}
    )  # fmt: skip
    verdict = run(watch_release(config, **RELEASE))
    assert verdict.status == "inconclusive" and "error_rate" in verdict.detail


def test_a_query_prometheus_refuses_is_a_clear_error(bluegreen: BlueGreen) -> None:
    config = WatchConfig.model_validate(
        {"prometheus": bluegreen.prometheus_url, "window_seconds": 1,
         "checks": [{"name": "broken", "query": 'sum(rate(http_requests_total{version="{version}"}[', "max": 0.1}]}
    )  # fmt: skip
    with pytest.raises(ToolError, match="Prometheus refused the query of check broken"):
        run(watch_release(config, **RELEASE))


def test_nothing_to_watch_is_an_error() -> None:
    with pytest.raises(ToolError, match="nothing to watch"):
        run(watch_release(WatchConfig(health={"staging": "http://127.0.0.1:1/health"}), **RELEASE))
