"""Watching a release: health checks and PromQL queries sampled every `interval_seconds` for a window.

A check breaches when its value is over its threshold (a health URL: not 2xx, or reporting another
version). A release is `regressed` as soon as one check breaches `consecutive_breaches` samples in a row
(one bad scrape does not roll back a release, three do), and the watch stops there; it is `healthy` when
the window passes without that, and `inconclusive` when some check never produced a value (Prometheus
down, a query without series): a release nobody could measure is not called healthy.

Queries get `{version}`, `{service}`, `{environment}` filled in (validated values, names.py). Filter them
by version: a rate window still holds the previous release's series for its whole length.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import httpx

from meshclaw.connectors.deploy.config import PromCheck, WatchConfig
from meshclaw.connectors.deploy.names import fill
from meshclaw.tools.registry import ToolError

HEALTH = "health"


@dataclass(frozen=True, kw_only=True, slots=True)
class Sample:
    check: str
    value: float | None
    """None: no data (no series, NaN, unreachable)."""
    breached: bool
    note: str = ""


@dataclass(kw_only=True, slots=True)
class Verdict:
    status: Literal["healthy", "regressed", "inconclusive"]
    service: str
    environment: str
    version: str
    detail: str
    failing_check: str | None = None
    value: float | None = None
    threshold: float | None = None
    detected_after_seconds: float | None = None
    watched_seconds: float = 0.0
    samples: dict[str, list[float | None]] = field(default_factory=dict)
    """The last values of each check, oldest first."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def watch_release(
    config: WatchConfig, *, service: str, environment: str, version: str, window: float | None = None
) -> Verdict:
    health_url = config.health.get(environment)
    if health_url is None and not config.checks:
        raise ToolError(
            f"nothing to watch: the account has no health URL for {environment} and no PromQL checks"
        )
    window_s = window if window is not None else config.window_seconds
    streaks: dict[str, int] = {}
    history: dict[str, list[float | None]] = {}
    thresholds = {check.name: check.max for check in config.checks}
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=config.timeout_seconds) as client:
        while True:
            tick = time.monotonic()
            probes = [
                _prom(client, config, check, service=service, environment=environment, version=version)
                for check in config.checks
            ]
            if health_url is not None:
                probes.append(_health(client, config, health_url, version))
            for sample in await asyncio.gather(*probes):
                history.setdefault(sample.check, []).append(sample.value)
                if sample.breached:
                    streaks[sample.check] = streaks.get(sample.check, 0) + 1
                elif sample.value is not None:
                    streaks[sample.check] = 0
                if streaks.get(sample.check, 0) >= config.consecutive_breaches:
                    elapsed = time.monotonic() - started
                    return Verdict(
                        status="regressed", service=service, environment=environment, version=version,
                        failing_check=sample.check, value=sample.value, threshold=thresholds.get(sample.check),
                        detected_after_seconds=round(elapsed, 2), watched_seconds=round(elapsed, 2),
                        samples=_tail(history),
                        detail=f"{sample.check} breached {config.consecutive_breaches} samples in a row"
                        + (f" ({sample.note})" if sample.note else ""),
                    )  # fmt: skip
            if time.monotonic() - started >= window_s:
                break
            await asyncio.sleep(max(0.0, config.interval_seconds - (time.monotonic() - tick)))
    elapsed = round(time.monotonic() - started, 2)
    blind = sorted(name for name, values in history.items() if all(value is None for value in values))
    if blind:
        return Verdict(
            status="inconclusive", service=service, environment=environment, version=version,
            watched_seconds=elapsed, samples=_tail(history),
            detail=f"no data from {', '.join(blind)} during the window; not calling it healthy",
        )  # fmt: skip
    return Verdict(
        status="healthy", service=service, environment=environment, version=version,
        watched_seconds=elapsed, samples=_tail(history),
        detail=f"no check breached {config.consecutive_breaches} samples in a row in {elapsed:g} s",
    )  # fmt: skip


def _tail(history: dict[str, list[float | None]]) -> dict[str, list[float | None]]:
    return {name: values[-10:] for name, values in history.items()}


async def _health(client: httpx.AsyncClient, config: WatchConfig, url: str, version: str) -> Sample:
    try:
        response = await client.get(url)
    except httpx.HTTPError as error:
        return Sample(check=HEALTH, value=None, breached=True, note=f"{type(error).__name__}")
    code = float(response.status_code)
    if not response.is_success:
        return Sample(check=HEALTH, value=code, breached=True, note=f"HTTP {response.status_code}")
    field_name = config.health_version_field
    if field_name is not None:
        try:
            reported = response.json().get(field_name)
        except (ValueError, AttributeError):
            reported = None
        if reported != version:
            return Sample(check=HEALTH, value=code, breached=True, note=f"reports version {reported!r}")
    return Sample(check=HEALTH, value=code, breached=False)


async def _prom(
    client: httpx.AsyncClient,
    config: WatchConfig,
    check: PromCheck,
    *,
    service: str,
    environment: str,
    version: str,
) -> Sample:
    assert config.prometheus is not None  # WatchConfig refuses checks without it
    query = fill(check.query, service=service, environment=environment, version=version)
    no_data = Sample(check=check.name, value=None, breached=check.on_no_data == "breach", note="no data")
    try:
        response = await client.get(f"{config.prometheus.rstrip('/')}/api/v1/query", params={"query": query})
    except httpx.HTTPError:
        return no_data
    if response.status_code == 400:
        raise ToolError(f"Prometheus refused the query of check {check.name}: {response.text[:200]}")
    if not response.is_success:
        return no_data
    data = response.json().get("data", {})
    values: list[float] = []
    if data.get("resultType") == "scalar":
        values = [float(data["result"][1])]
    elif data.get("resultType") == "vector":
        values = [float(item["value"][1]) for item in data.get("result", [])]
    values = [value for value in values if not math.isnan(value)]
    if not values:
        return no_data
    value = max(values)  # several series: judge by the worst
    return Sample(check=check.name, value=value, breached=value > check.max)
