"""`POST /v1/metrics`, `/v1/logs`, `/v1/traces`: OTLP/HTTP receivers (protobuf or JSON, optionally gzip).

Each export is decoded and mapped as a whole before anything is recorded, so a malformed payload records
nothing. Records that cannot be attributed (an unknown `user.email`) are left out and reported in the
response's `partial_success`; the rest of the batch is kept. Mapping runs in a worker thread: it may look
up users and, after a restart, cumulative readings in the database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from meshclaw.context import AppContext
from meshclaw.ingest.auth import ingest_principal
from meshclaw.ingest.decode import decompress, encode, media_type, parse
from meshclaw.ingest.identities import Directory
from meshclaw.ingest.memory import IngestMemory
from meshclaw.metering.otel_batch import Mapped, MappingContext
from meshclaw.metering.otel_logs import map_logs
from meshclaw.metering.otel_metrics import map_metrics
from meshclaw.metering.otel_spans import map_spans
from meshclaw.metering.recorder import Recorder


def record(recorder: Recorder, mapped: Mapped) -> None:
    for usage in mapped.usage:
        recorder.record_usage(usage)
    for outcome in mapped.outcomes:
        recorder.record_outcome(outcome)
    for activity in mapped.activities:
        recorder.record_activity(activity)


def build_router(context: AppContext) -> APIRouter:
    # Not in the JSON API's OpenAPI document: these speak OTLP, described by the OTLP specification.
    router = APIRouter(tags=["ingest"], include_in_schema=False)
    memory = IngestMemory.for_database(context.db)

    async def export(
        request: Request,
        message: Message,
        mapper: Callable[[Any, MappingContext], Mapped],
        respond: Callable[[Mapped], Message],
    ) -> Response:
        kind = media_type(request.headers.get("content-type"))
        principal = await run_in_threadpool(ingest_principal, context, request.headers)
        limit = context.settings.max_body_bytes
        body = decompress(await request.body(), request.headers.get("content-encoding"), limit=limit)
        parse(message, body, kind)
        mapping = MappingContext(
            identify=Directory(context, principal).identify,
            counters=memory.counters,
            signals=memory.signals,
            api_key_id=principal.key_id,
        )
        mapped = await run_in_threadpool(mapper, message, mapping)
        record(request.app.state.recorder, mapped)
        return Response(encode(respond(mapped), kind), media_type=kind)

    @router.post("/v1/metrics", summary="OTLP/HTTP metrics export")
    async def export_metrics(request: Request) -> Response:
        def respond(mapped: Mapped) -> Message:
            response = ExportMetricsServiceResponse()
            if mapped.rejected:
                response.partial_success.rejected_data_points = mapped.rejected
                response.partial_success.error_message = mapped.message
            return response

        return await export(request, ExportMetricsServiceRequest(), map_metrics, respond)

    @router.post("/v1/logs", summary="OTLP/HTTP logs export")
    async def export_logs(request: Request) -> Response:
        def respond(mapped: Mapped) -> Message:
            response = ExportLogsServiceResponse()
            if mapped.rejected:
                response.partial_success.rejected_log_records = mapped.rejected
                response.partial_success.error_message = mapped.message
            return response

        return await export(request, ExportLogsServiceRequest(), map_logs, respond)

    @router.post("/v1/traces", summary="OTLP/HTTP traces export")
    async def export_traces(request: Request) -> Response:
        def respond(mapped: Mapped) -> Message:
            response = ExportTraceServiceResponse()
            if mapped.rejected:
                response.partial_success.rejected_spans = mapped.rejected
                response.partial_success.error_message = mapped.message
            return response

        return await export(request, ExportTraceServiceRequest(), map_spans, respond)

    return router
