"""/api/v1/organization and /api/v1/org/import (onboarding people from CSV or JSON)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.people_audit import record_org_import
from meshclaw.errors import NotFoundError
from meshclaw.identity import store
from meshclaw.identity.authorize import Resource, authorize
from meshclaw.identity.org_import import ImportRejectedError, import_rows, parse_file

router = APIRouter(tags=["organization"])


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    created_at: datetime


class ImportOut(BaseModel):
    users_created: int
    users_updated: int
    teams_created: list[str]


@router.get("/organization", response_model=OrganizationOut)
def read_organization(principal: CurrentPrincipal, context: Context) -> OrganizationOut:
    authorize(principal, "read", Resource(kind="organization"))
    with context.db.session() as session:
        org = store.get_org(session)
        if org is None:
            raise NotFoundError("the organization has not been created yet; run `meshclaw up` once")
        return OrganizationOut.model_validate(org)


def _rejection(exc: ImportRejectedError) -> Response:
    """The usual error shape plus every problem found (up to 200), so a client can show them all."""
    rows = [{"row": e.row, "field": e.field, "message": e.message} for e in exc.errors]
    body = {"code": exc.code, "message": exc.message, "total": exc.total_errors, "rows": rows}
    return JSONResponse({"error": body}, status_code=exc.status)


@router.post(
    "/org/import",
    response_model=ImportOut,
    responses={422: {"description": "Rejected; `error.rows` lists each problem with its row number"}},
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            }
        }
    },
)
async def import_org(
    request: Request,
    principal: CurrentPrincipal,
    context: Context,
    on_existing: Literal["error", "update"] = "error",
) -> ImportOut | Response:
    """Send the file as the body: CSV (`email,name,team,manager_email,role`) or the same rows as JSON.
    All rows are checked first; one bad row rejects the whole file with every problem listed."""
    authorize(principal, "manage", Resource(kind="user"))
    data = await request.body()
    try:
        rows = parse_file(data, filename=".json" if "json" in request.headers.get("content-type", "") else "")
    except ImportRejectedError as exc:
        return _rejection(exc)

    def run() -> ImportOut:
        with context.db.session() as session:
            report = import_rows(
                session, rows, org_id=principal.org_id, now=context.clock.now(), on_existing=on_existing
            )
            record_org_import(context, session, principal, report)
            return ImportOut(
                users_created=report.users_created,
                users_updated=report.users_updated,
                teams_created=report.teams_created,
            )

    try:
        return await run_in_threadpool(run)
    except ImportRejectedError as exc:
        return _rejection(exc)
