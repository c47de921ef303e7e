"""The gateway's long-lived parts for one process: key cache, upstream pool and their lifecycle.

The recorder, limiter and routing table are read from the app's state on each call (an attribute
lookup), so whatever the server wires in, or a test swaps in, is what the gateway uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from prometheus_client import CollectorRegistry

from meshclaw.context import AppContext
from meshclaw.gateway.keys import KeyCache
from meshclaw.gateway.metrics import GatewayMetrics
from meshclaw.gateway.run_credentials import RunCredentials
from meshclaw.gateway.upstream import Upstream
from meshclaw.limits.admission import Limiter
from meshclaw.metering.recorder import Recorder
from meshclaw.providers.live import LiveRoutes
from meshclaw.providers.registry import Routes

ROUTES_REFRESH_S = 5.0


class Gateway:
    def __init__(
        self,
        context: AppContext,
        state: Any,
        *,
        registry: CollectorRegistry | None = None,
        key_refresh_s: float = 1.0,
    ) -> None:
        self.context = context
        self.clock = context.clock
        self.max_body_bytes = context.settings.max_body_bytes
        self._state = state
        self.keys = KeyCache(context, refresh_s=key_refresh_s)
        self.keys.after_refresh.append(self._refresh_routes)
        self.upstream = Upstream(timeout_s=context.settings.gateway_timeout_s)
        self.run_credentials = RunCredentials()
        """Verifies the credentials `agent_models.GatewayModels` issues to MeshClaw's own agent runs."""
        self.metrics = GatewayMetrics(registry)
        self._tasks: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}
        """The key refresher of each event loop the app was started on: one in a server; a test may run
        two TestClients, each with its own loop, on one app, and a task can only be awaited on its loop."""
        self._routes_loaded = 0.0

    def recorder(self) -> Recorder:
        recorder: Recorder = self._state.recorder
        return recorder

    def limiter(self) -> Limiter:
        limiter: Limiter = self._state.limiter
        return limiter

    def live_routes(self) -> LiveRoutes:
        routes: LiveRoutes = self._state.provider_routes
        return routes

    def routes(self) -> Routes:
        return self.live_routes().current()

    def _refresh_routes(self) -> None:
        # Reloaded on the key refresh thread, so `current()` never reloads on the event loop (a database
        # read there would stall every request in flight).
        now = time.monotonic()
        if now - self._routes_loaded >= ROUTES_REFRESH_S:
            self.live_routes().reload()
            self._routes_loaded = now

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if loop in self._tasks:
            return
        if not self._tasks:
            self.keys.watch()
        await asyncio.to_thread(self.live_routes().reload)
        self._tasks[loop] = asyncio.create_task(self.keys.run(), name="meshclaw-gateway-keys")

    async def close(self) -> None:
        task = self._tasks.pop(asyncio.get_running_loop(), None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._tasks:
            return  # still serving on another loop; the last one to close releases what is shared
        self.keys.unwatch()
        await self.keys.close()
        await self.upstream.close()
