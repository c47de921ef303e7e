"""`POST /api/v1/usage/imports?format=copilot|cursor[&skip_bad=true][&login=LOGIN=EMAIL…]`: upload a usage report (admins).

The body is the file itself, or a multipart form with the file in `file`. Authenticate with an admin's
API key with the `ingest` or `api:write` scope. Bad rows answer 422 with each row's line and error, and
nothing is imported unless `skip_bad=true`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from meshclaw.context import AppContext
from meshclaw.errors import InvalidInputError, PermissionDeniedError
from meshclaw.identity.principal import KeyScope, Principal, Role
from meshclaw.ingest.auth import ingest_principal
from meshclaw.ingest.imports import ReportFormat, import_report, parse_logins
from meshclaw.metering.import_rows import BadRowsError


async def _file_bytes(request: Request) -> bytes:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInputError("send the report in the multipart field 'file'", field="file")
        return await upload.read()
    return await request.body()


async def admin_principal(request: Request) -> Principal:
    """A dependency, so that a missing credential is 401 before the query is validated."""
    context = request.app.state.context
    principal = await run_in_threadpool(
        ingest_principal, context, request.headers, also=frozenset({KeyScope.API_WRITE})
    )
    if principal.role != Role.ADMIN:
        raise PermissionDeniedError("only admins can import usage reports")
    return principal


AdminPrincipal = Annotated[Principal, Depends(admin_principal)]


def build_router(context: AppContext) -> APIRouter:
    router = APIRouter(tags=["usage"])

    @router.post(
        "/api/v1/usage/imports", summary="Import a Copilot or Cursor usage report", response_model=None
    )
    async def import_usage(
        request: Request,
        principal: AdminPrincipal,
        format: Annotated[ReportFormat, Query(description="copilot (NDJSON) or cursor (JSON)")],
        skip_bad: Annotated[bool, Query(description="import the good rows of a file with bad rows")] = False,
        login: Annotated[
            list[str] | None, Query(description="LOGIN=EMAIL for Copilot logins; repeat")
        ] = None,
    ) -> dict[str, Any] | JSONResponse:
        logins = parse_logins(login)
        data = await _file_bytes(request)
        try:
            summary = await run_in_threadpool(
                lambda: import_report(
                    context,
                    request.app.state.recorder,
                    org_id=principal.org_id,
                    report_format=format,
                    data=data,
                    skip_bad=skip_bad,
                    logins=logins,
                )
            )
        except BadRowsError as exc:
            rows = [{"line": row.line, "error": row.error} for row in exc.bad]
            error = {"code": exc.code, "message": exc.message, "rows": rows}
            return JSONResponse({"error": error}, status_code=422)
        return summary.as_dict()

    return router
