"""The deploy connector against a real blue/green setup (supervisord, nginx, Prometheus; tests/servers/
deploy.py): deploy, watch, roll back, exactly-once replays and the event source, through the tools."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from meshclaw.connectors.deploy.config import DeployConfig
from meshclaw.connectors.deploy.events import poll_deployments
from tests.connectors.deploy.conftest import RecordingSink, account, call, run
from tests.servers.deploy import BlueGreen

ERROR_RATE = (
    'sum(rate(http_requests_total{version="{version}",code=~"5.."}[10s]))'
    ' / sum(rate(http_requests_total{version="{version}"}[10s]))'
)
LATENCY_P95 = (
    "histogram_quantile(0.95, sum by (le) "
    '(rate(http_request_duration_seconds_bucket{version="{version}"}[10s])))'
)
DETECTION_LIMIT_S = 30


def config(setup: BlueGreen, state_dir: Path, *, window: float = 8) -> DeployConfig:
    return DeployConfig.model_validate(
        {
            "target": {
                "kind": "command",
                "state_dir": str(state_dir),
                "timeout_seconds": 60,
                "commands": {
                    "web": {
                        "deploy": setup.command("deploy", "{version}"),
                        "rollback": setup.command("rollback"),
                        "status": setup.command("status"),
                    }
                },
            },
            "services": ["web"],
            "environments": ["production"],
            "poll_seconds": 1,
            "watch": {
                "health": {"production": setup.url + "/health"},
                "prometheus": setup.prometheus_url,
                "checks": [
                    {"name": "error_rate", "query": ERROR_RATE, "max": 0.05},
                    {"name": "latency_p95", "query": LATENCY_P95, "max": 0.5},
                ],
                "window_seconds": window,
                "interval_seconds": 1,
                "consecutive_breaches": 3,
            },
        }
    )


@contextmanager
def traffic(setup: BlueGreen) -> Iterator[Counter[tuple[int, str]]]:
    """Steady requests through nginx while the block runs (what the watch judges); counts (code, version)."""
    seen: Counter[tuple[int, str]] = Counter()
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                seen[setup.get()] += 1
            except Exception as error:  # a broken answer must not stop the traffic the watch needs
                seen[(0, type(error).__name__)] += 1
            time.sleep(0.01)

    worker = threading.Thread(target=loop, daemon=True)
    worker.start()
    try:
        yield seen
    finally:
        stop.set()
        worker.join(timeout=5)


def test_good_release_is_verified_healthy_and_a_bad_one_is_caught_and_rolled_back(
    bluegreen: BlueGreen, tmp_path: Path
) -> None:
    prod = account("prod", config(bluegreen, tmp_path))
    bluegreen.release("1.1.0")
    bluegreen.release("1.2.0", error_rate=0.3)
    phases: dict[str, float] = {}
    clock = time.monotonic()
    with traffic(bluegreen):
        started = run(
            call([prod], "deploy_start_release", service="web", environment="production", version="1.1.0")
        )
        assert started["status"] == "succeeded", started
        assert bluegreen.get() == (200, "1.1.0")
        phases["deploy good"], clock = time.monotonic() - clock, time.monotonic()
        healthy = run(
            call([prod], "deploy_watch_release", service="web", environment="production", version="1.1.0")
        )
        assert healthy["status"] == "healthy", healthy
        assert any(value is not None for value in healthy["samples"]["error_rate"])
        phases["watch good"], clock = time.monotonic() - clock, time.monotonic()

        bad = run(
            call([prod], "deploy_start_release", service="web", environment="production", version="1.2.0")
        )
        assert bad["status"] == "succeeded", bad
        phases["deploy bad"], clock = time.monotonic() - clock, time.monotonic()
        verdict = run(
            call(
                [prod], "deploy_watch_release", service="web", environment="production", version="1.2.0",
                window_seconds=60,
            )
        )  # fmt: skip
        detection = time.monotonic() - clock
        phases["detect"], clock = detection, time.monotonic()
        assert verdict["status"] == "regressed", verdict
        assert verdict["failing_check"] == "error_rate"
        assert verdict["value"] > 0.05 and verdict["threshold"] == 0.05
        assert detection < DETECTION_LIMIT_S, f"regression detected after {detection:.1f} s"

        back = run(call([prod], "deploy_rollback_release", service="web", environment="production"))
        assert back["status"] == "succeeded", back
        phases["rollback"], clock = time.monotonic() - clock, time.monotonic()
    answers = Counter(bluegreen.get() for _ in range(100))
    assert answers == Counter({(200, "1.1.0"): 100})
    phases["100 requests"] = time.monotonic() - clock
    print(
        f"\nerror ratio of 1.2.0: {verdict['value']:.2f};",
        ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()),
    )
    status = run(call([prod], "deploy_get_status", service="web", environment="production"))
    assert (status["version"], status["state"]) == ("1.1.0", "succeeded")


def test_a_replayed_deploy_with_the_same_key_runs_once(bluegreen: BlueGreen, tmp_path: Path) -> None:
    prod = account("prod", config(bluegreen, tmp_path))
    bluegreen.release("1.3.0")
    args: dict[str, Any] = {"service": "web", "environment": "production", "version": "1.3.0"}
    first = run(call([prod], "deploy_start_release", key="run-7:3", **args))
    after_first = bluegreen.run_script("status", "web", "production")
    second = run(call([prod], "deploy_start_release", key="run-7:3", **args))
    assert first["status"] == "succeeded"
    assert second["status"] == "already_done" and second["reference"] == first["reference"]
    # The deploy script gives every deploy a new id: the same id means it did not run again.
    assert bluegreen.run_script("status", "web", "production") == after_first
    third = run(call([prod], "deploy_start_release", key="run-7:4", **args))
    assert third["status"] == "succeeded" and third["reference"] != first["reference"]


def test_deployments_by_others_become_events_and_ours_do_not(bluegreen: BlueGreen, tmp_path: Path) -> None:
    prod = account("prod", config(bluegreen, tmp_path))
    bluegreen.release("1.4.0")
    bluegreen.release("1.5.0")

    async def scenario() -> RecordingSink:
        sink, stop = RecordingSink(), asyncio.Event()
        poller = asyncio.create_task(poll_deployments(prod, sink, stop))
        await asyncio.sleep(1.5)  # the first poll learns what runs now
        await call([prod], "deploy_start_release", key="run-8:1", service="web", environment="production",
                   version="1.4.0")  # fmt: skip
        await asyncio.sleep(2.5)
        await asyncio.to_thread(bluegreen.run_script, "deploy", "web", "production", "1.5.0")
        deadline = time.monotonic() + 10
        while len(sink.events) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)  # a further poll must not repeat them
        stop.set()
        await poller
        return sink

    sink = run(scenario())
    assert [(e.type, e.fields.get("version"), e.fields.get("state")) for e in sink.events] == [
        ("deployment.started", "1.5.0", None),
        ("deployment.finished", "1.5.0", "succeeded"),
    ]
    started = sink.events[0]
    assert started.untrusted is False
    assert dict(started.fields) == {
        "account": "prod",
        "service": "web",
        "environment": "production",
        "version": "1.5.0",
    }
    assert len({event.key for event in sink.events}) == 2
