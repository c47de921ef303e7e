"""/healthz (the process is up), /readyz (the database answers and the schema is current), /metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from meshclaw.context import AppContext
from meshclaw.db.migrate import current_revision, head_revision
from meshclaw.server.middleware import Metrics

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> Response:
    return PlainTextResponse("ok")


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    context: AppContext = request.app.state.context

    def check() -> dict[str, str]:
        problems: dict[str, str] = {}
        try:
            with context.db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            current = current_revision(context.db)
            if current != head_revision():
                problems["migrations"] = (
                    f"schema at {current}, code expects {head_revision()}; run `meshclaw up`"
                )
        except Exception as exc:  # any driver error means not ready; say which
            problems["database"] = type(exc).__name__
        return problems

    problems = await run_in_threadpool(check)
    if problems:
        return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    collected: Metrics = request.app.state.metrics
    return Response(generate_latest(collected.registry), media_type=CONTENT_TYPE_LATEST)
