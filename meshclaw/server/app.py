"""`create_app(context)`: the one ASGI app that serves the API, the web UI, the gateway and ingest."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache

from fastapi import APIRouter, FastAPI
from starlette.types import Receive, Scope, Send

import meshclaw
from meshclaw.api.routes import build_router as build_api_router
from meshclaw.clarity.upkeep import Upkeep
from meshclaw.context import AppContext
from meshclaw.gateway.agent_models import GatewayModels
from meshclaw.gateway.asgi import GatewayFront
from meshclaw.gateway.runtime import Gateway
from meshclaw.ingest.errors import OTLP_ERROR_RENDERERS
from meshclaw.ingest.import_routes import build_router as build_import_router
from meshclaw.ingest.otlp_routes import build_router as build_otlp_router
from meshclaw.limits.admission import Limiter
from meshclaw.limits.alerts import AlertSink, LogAlertSink
from meshclaw.metering.recorder import Recorder
from meshclaw.providers.live import LiveRoutes
from meshclaw.runs import agent_execution
from meshclaw.runs.engine import RunEngine
from meshclaw.server import ops
from meshclaw.server.budget_notices import NotifyingAlertSink
from meshclaw.server.errors import ErrorRenderer, install_error_handlers
from meshclaw.server.metering_metrics import register_metering_metrics
from meshclaw.server.middleware import BodyLimitMiddleware, Metrics, MetricsMiddleware
from meshclaw.web.errors import render_html_error
from meshclaw.web.headers import SecurityHeadersMiddleware
from meshclaw.web.oidc import router as oidc_router
from meshclaw.web.routes import WEB_PATH_PREFIXES
from meshclaw.web.routes import build_router as build_web_router


class MeshclawApp(FastAPI):
    """FastAPI with a front door: the gateway's paths are answered before FastAPI's per-request wrapping
    (telemetry, body limit, middleware, routing), which costs more than a whole gateway call."""

    front: GatewayFront | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        front = self.front
        if front is not None and scope["type"] == "http" and front.handles(scope["path"]):
            await front(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _runs_engine(context: AppContext, gateway: Gateway) -> RunEngine | None:
    """The runs engine, whose agents reach their models through this app's gateway, in process (one
    metering path); a `runs_executor` setting replaces the agent runtime (tests use a scripted one)."""
    if not context.settings.runs_engine:
        return None
    if context.settings.runs_executor is not None:
        return RunEngine(context)
    return RunEngine(context, execution=agent_execution.build(context, models=GatewayModels(gateway)))


@cache
def _context_free_routers() -> tuple[APIRouter, ...]:
    """The routers whose handlers reach the app's context through the request, built once per process.

    Including a router makes FastAPI work out every route's parameters and models (signatures, pydantic
    adapters) and keep them on that router: one to two seconds per app on the loaded 2-core test machine,
    where the suite builds hundreds of apps in one process. A router built once is worked out once. The
    ingest routers hold the context they were built for, so they are built per app.
    """
    return (ops.router, build_api_router(), build_web_router(), oidc_router)


def create_app(context: AppContext, *, freeze_gc: bool = False) -> FastAPI:
    """Build the app for an already migrated database (`meshclaw up` migrates before serving).

    The usage recorder starts with the app (replaying any crash journal first) and commits every
    recorded event before the app stops. The limiter loads budgets and this period's spend at start and
    keeps them current in the background. Clarity's upkeep sums the rollups into its day and week tables
    at start and every minute, on a thread of its own (pages read the rollups of days not summed yet), and
    then scores the flag weeks that are due.
    The runs engine (DBOS) starts last, so a run it recovers finds everything else up, and stops first
    (unless `runs_engine` is off).

    `freeze_gc` (the server process, `meshclaw up`): once everything has started, collect and move what
    is left out of the collector's generations (`gc.freeze`). It lives as long as the process, and a full
    collection walking it (modules, the app, DBOS and the model library's objects: 0.45-0.9 s measured on
    the 2-core reference box) would stall every request in flight. Not for processes that build many apps
    (tests): garbage of an earlier app still around would be kept for good.
    """
    recorder = Recorder(context.db, journal_dir=context.settings.metering_journal_dir)
    alerts: list[AlertSink] = [LogAlertSink(), NotifyingAlertSink(context.db, clock=context.clock)]
    limiter = Limiter(context.db, clock=context.clock, alert_sinks=alerts)
    upkeep = Upkeep(context.db, clock=context.clock)
    gateway: Gateway | None = None
    runs: RunEngine | None = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        recorder.start()
        limiter.start()
        upkeep.start()
        assert gateway is not None
        await gateway.start()
        if runs is not None:
            await runs.start()
        if freeze_gc:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if runs is not None:
                await runs.close()
            await gateway.close()
            upkeep.close()
            limiter.close()
            recorder.close()

    app = MeshclawApp(
        lifespan=lifespan,
        title="MeshClaw",
        version=meshclaw.__version__,
        description="Agents that act for people, safe by default, with every AI token metered.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.context = context
    app.state.recorder = recorder
    app.state.limiter = limiter
    app.state.metrics = Metrics()
    register_metering_metrics(app.state.metrics.registry, recorder)
    app.state.provider_routes = LiveRoutes(context.db)
    gateway = Gateway(context, app.state, registry=app.state.metrics.registry)
    app.state.gateway = gateway
    runs = _runs_engine(context, gateway)
    app.state.runs = runs
    renderers: dict[str, ErrorRenderer] = dict.fromkeys(WEB_PATH_PREFIXES, render_html_error)
    renderers.update(OTLP_ERROR_RENDERERS)
    for router in _context_free_routers():
        app.include_router(router)
    app.include_router(build_otlp_router(context))
    app.include_router(build_import_router(context))
    install_error_handlers(app, renderers)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(BodyLimitMiddleware, max_bytes=context.settings.max_body_bytes)
    app.front = GatewayFront(gateway)
    return app
