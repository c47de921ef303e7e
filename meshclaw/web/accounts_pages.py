"""/accounts: the connector accounts the viewer can see, adding one (config as JSON, secrets as
`vault:NAME`), switching one off or on, checking and removing it, and what each connector offers. Every
change goes through `api.accounts` (authorization, checks, audit record), as the API and the CLI do."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from meshclaw.api import accounts as api
from meshclaw.api.deps import Context
from meshclaw.errors import InvalidInputError
from meshclaw.identity.authorize import Resource, is_allowed
from meshclaw.web.deps import FormActor, PageViewer
from meshclaw.web.render import render

router = APIRouter(include_in_schema=False)

NOTICES = {
    "added": "Account added. Check it to see that it logs in.",
    "enabled": "Account enabled.",
    "disabled": "Account disabled: its tools refuse and its events stop.",
    "removed": "Account removed (its vault secrets stay).",
}


@router.get("/accounts")
def accounts_page(
    request: Request,
    viewer: PageViewer,
    context: Context,
    notice: str | None = None,
    checked: str | None = None,
    ok: int | None = None,
    detail: str | None = None,
) -> Response:
    principal = viewer.principal
    rows = api.list_accounts(principal, context)
    connectors = api.list_connectors(principal)
    return render(
        request,
        "accounts.html",
        accounts=rows,
        connectors=connectors,
        can_org=is_allowed(principal, "create", Resource(kind="connector_account")),
        notice=NOTICES.get(notice or ""),
        check=(checked, bool(ok), detail) if checked else None,
        example=json.dumps({"signing_secret": "vault:NAME"}),
    )


@router.post("/accounts")
def add(
    request: Request,
    viewer: FormActor,
    context: Context,
    name: Annotated[str, Form(max_length=63)],
    connector: Annotated[str, Form(max_length=32)],
    config: Annotated[str, Form(max_length=100_000)],
    organization: Annotated[bool, Form()] = False,
) -> Response:
    try:
        parsed: Any = json.loads(config)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"config: not valid JSON ({exc.msg} at line {exc.lineno})", field="config"
        ) from None
    except RecursionError:  # Python's json follows nesting by recursion: a few thousand brackets end it
        raise InvalidInputError("config: nested too deeply", field="config") from None
    if not isinstance(parsed, dict):
        raise InvalidInputError("config: write a JSON object of the connector's fields", field="config")
    body = api.AccountIn(name=name, connector=connector, config=parsed, organization=organization)
    api.add_account(body, viewer.principal, context, request)
    return RedirectResponse("/accounts?notice=added", status_code=303)


@router.post("/accounts/{name}/enabled")
def switch(
    request: Request, name: str, viewer: FormActor, context: Context, enabled: Annotated[bool, Form()]
) -> Response:
    api.change_account(name, api.AccountPatch(enabled=enabled), viewer.principal, context, request)
    return RedirectResponse(f"/accounts?notice={'enabled' if enabled else 'disabled'}", status_code=303)


@router.post("/accounts/{name}/remove")
def remove(request: Request, name: str, viewer: FormActor, context: Context) -> Response:
    api.remove_account(name, viewer.principal, context, request)
    return RedirectResponse("/accounts?notice=removed", status_code=303)


@router.post("/accounts/{name}/check")
async def check(name: str, viewer: FormActor, context: Context) -> Response:
    result = await api.check_account(name, viewer.principal, context)
    query = urlencode({"checked": name, "ok": int(result.ok), "detail": result.detail[:500]})
    return RedirectResponse(f"/accounts?{query}", status_code=303)
